// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import type { SeatMap } from '../lib/api'
import { layout } from '../lib/seatmap'
import { SectionSeats } from './SectionSeats'
import { queueProgress } from '../lib/queue'

function smallMap(): SeatMap {
  let id = 0
  return {
    event_id: 1,
    as_of: '',
    currency: 'GBP',
    sections: [
      {
        name: 'Stalls',
        tier: 'Stalls',
        rows: ['A', 'B'].map((label) => ({
          label,
          seats: [1, 2, 3].map((number) => ({ id: id++, number, price_cents: 2500, status: id === 2 ? ('sold' as const) : ('available' as const), accessible: false })),
        })),
      },
    ],
  }
}

describe('SectionSeats', () => {
  it('has one tab stop and moves with the arrow keys', () => {
    const v = layout(smallMap())
    render(<SectionSeats venue={v} box={v.sections[0]} version={0} selected={new Set()} onToggle={() => {}} />)
    const seats = screen.getAllByRole('button')
    expect(seats).toHaveLength(6)
    expect(seats.filter((b) => b.tabIndex === 0)).toHaveLength(1)
    seats[0].focus()
    fireEvent.keyDown(seats[0], { key: 'ArrowRight' })
    expect(document.activeElement).toBe(seats[1])
    fireEvent.keyDown(seats[1], { key: 'ArrowDown' })
    expect(document.activeElement).toBe(seats[4])
    fireEvent.keyDown(seats[4], { key: 'End' })
    expect(document.activeElement).toBe(seats[5])
  })

  it('takes the focus to its seats when it opens', () => {
    const v = layout(smallMap())
    render(<SectionSeats venue={v} box={v.sections[0]} version={0} selected={new Set()} onToggle={() => {}} />)
    expect(document.activeElement).toBe(screen.getAllByRole('button')[0])
  })

  it('labels seats for screen readers and refuses taken ones', () => {
    const v = layout(smallMap())
    const onToggle = vi.fn()
    render(<SectionSeats venue={v} box={v.sections[0]} version={0} selected={new Set([0])} onToggle={onToggle} />)
    const chosen = screen.getByRole('button', { name: 'Row A, seat 1, £25.00, selected' })
    expect(chosen.getAttribute('aria-pressed')).toBe('true')
    const sold = screen.getByRole('button', { name: 'Row A, seat 2, £25.00, sold' })
    expect(sold.getAttribute('aria-disabled')).toBe('true')
    fireEvent.click(sold)
    expect(onToggle).not.toHaveBeenCalled()
    fireEvent.click(screen.getByRole('button', { name: /Row B, seat 1/ }))
    expect(onToggle).toHaveBeenCalledWith(3)
  })
})

describe('queueProgress', () => {
  it('runs from 0 at the first place seen to 1 at the front', () => {
    expect(queueProgress(100, 100)).toBe(0)
    expect(queueProgress(100, 25)).toBe(0.75)
    expect(queueProgress(100, 0)).toBe(1)
    expect(queueProgress(null, 0)).toBe(1)
    expect(queueProgress(null, 5)).toBe(0)
    expect(queueProgress(10, undefined)).toBe(0)
  })
})
