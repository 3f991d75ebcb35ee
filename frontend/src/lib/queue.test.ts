import { describe, expect, it } from 'vitest'
import type { QueueStatus } from './api'
import { admissionEndOf } from './queue'

const base: QueueStatus = { state: 'admitted', event_id: 1, poll_after_ms: 1000, sale_opens_at: '' }

describe('admissionEndOf', () => {
  it.each<[string, Partial<QueueStatus>, ReturnType<typeof admissionEndOf>]>([
    ['the same admission', { admission_token: 'adm' }, null],
    ['admitted without a token', {}, null],
    ['a newer admission', { admission_token: 'adm-2' }, 'replaced'],
    ['timed out', { state: 'expired', reason: 'timeout' }, 'timeout'],
    ['done', { state: 'expired', reason: 'done' }, 'done'],
    ['abandoned', { state: 'expired', reason: 'abandoned' }, 'abandoned'],
    ['expired for a reason unknown here', { state: 'expired', reason: 'later' as never }, 'ended'],
    ['waiting again', { state: 'waiting', ahead: 3 }, 'ended'],
  ])('%s', (_name, st, want) => {
    expect(admissionEndOf({ ...base, ...st }, 'adm')).toBe(want)
  })
})
