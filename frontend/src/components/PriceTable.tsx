import { Fragment, useState } from 'react'
import type { SectionSummary } from '../lib/api'
import { count, priceRange } from '../lib/format'
import { tiers } from '../lib/tiers'

function Left({ left, capacity }: { left: number; capacity: number }) {
  return left === 0 ? <span className="text-red-700">Sold out</span> : <>{`${count(left)} / ${count(capacity)}`}</>
}

/**
 * PriceTable shows prices and seats left per tier, each tier opening to its
 * sections: an arena has 44 sections, too many for one flat list.
 */
export function PriceTable({ sections, currency }: { sections: SectionSummary[]; currency: string }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set())
  const groups = tiers(sections)
  const toggle = (name: string) =>
    setOpen((o) => {
      const n = new Set(o)
      if (n.has(name)) n.delete(name)
      else n.add(name)
      return n
    })
  return (
    <div className="mt-3 overflow-x-auto">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">Price range and seats left by tier and section</caption>
        <thead className="border-b border-slate-200 text-slate-600">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">Tier / section</th>
            <th scope="col" className="py-2 pr-3 font-medium">Price</th>
            <th scope="col" className="py-2 text-right font-medium">Seats left</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((t) => {
            const single = t.sections.length === 1
            const expanded = open.has(t.name)
            return (
              <Fragment key={t.name}>
                <tr className="border-b border-slate-100">
                  <th scope="row" className="py-2 pr-3 font-semibold">
                    {single ? (
                      <>
                        {t.sections[0].name}
                        {t.sections[0].name !== t.name && <span className="font-normal text-slate-600"> · {t.name}</span>}
                      </>
                    ) : (
                      <button type="button" onClick={() => toggle(t.name)} aria-expanded={expanded} className="inline-flex items-center gap-1.5 rounded text-left hover:text-indigo-700 focus-visible:outline-2 focus-visible:outline-indigo-600">
                        <span aria-hidden="true" className={`inline-block transition-transform ${expanded ? 'rotate-90' : ''}`}>
                          ▸
                        </span>
                        {t.name}
                        <span className="font-normal text-slate-600">· {t.sections.length} sections</span>
                      </button>
                    )}
                  </th>
                  <td className="py-2 pr-3 tabular-nums">{priceRange(t.min, t.max, currency)}</td>
                  <td className="py-2 text-right tabular-nums">
                    <Left left={t.left} capacity={t.capacity} />
                  </td>
                </tr>
                {!single &&
                  expanded &&
                  t.sections.map((s) => (
                    <tr key={s.name} className="border-b border-slate-100 bg-slate-50/60">
                      <th scope="row" className="py-1.5 pl-6 pr-3 font-normal">
                        Section {s.name}
                      </th>
                      <td className="py-1.5 pr-3 tabular-nums">{priceRange(s.min_price_cents, s.max_price_cents, currency)}</td>
                      <td className="py-1.5 text-right tabular-nums">
                        <Left left={s.seats_left} capacity={s.capacity} />
                      </td>
                    </tr>
                  ))}
              </Fragment>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
