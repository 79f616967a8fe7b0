package scoring

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// The stored form of Signals is two canonical varint byte strings (a DynamoDB binary
// attribute costs its length; a list of numbers costs 2-4 bytes per number more). Canonical:
// the same events give the same bytes, whatever their order.
//
// Windows: uvarint latest window; then per event signal that has windows, in Signal order
// (Signal numbers are stored: append new signals, never renumber), one byte signal number,
// uvarint count, and per window, oldest first: uvarint (latest - window), uvarint units,
// uvarint sum of the units' minutes from the window's start. About 5 bytes per window.
//
// Spend: uvarint latest month; per currency, sorted: 3 bytes ISO 4217 code, uvarint count,
// per month, oldest first: uvarint (latest - month), zigzag varint minor units.

// window is one signal's events in one 30-day window.
type window struct{ w, units, minutes int64 }

// windows is the decoded Windows attribute, on the stack.
type windows struct {
	latest int64
	n      [numSignals]int
	w      [numSignals][Horizon]window
}

// decode reads a whole Windows attribute.
func (d *windows) decode(b []byte) {
	*d = windows{}
	r := reader{b: b}
	d.latest = int64(r.uvarint())
	d.decodeSections(r.b)
}

// decodeSections reads signal sections, keeping only what encode can write back: a damaged
// attribute loses data, never breaks Observe.
func (d *windows) decodeSections(b []byte) {
	r := reader{b: b}
	for !r.done() {
		sig, count := Signal(r.byte()), int(r.uvarint())
		for i := 0; i < count && !r.done(); i++ {
			w := window{w: d.latest - int64(r.uvarint()), units: int64(r.uvarint()), minutes: int64(r.uvarint())}
			if sig < numSignals && !r.bad && w.w > d.latest-Horizon && w.w <= d.latest &&
				(d.n[sig] == 0 || w.w > d.w[sig][d.n[sig]-1].w) {
				d.w[sig][d.n[sig]] = w
				d.n[sig]++
			}
		}
	}
}

// insert adds x to its signal's window, keeping windows sorted. The caller keeps x.w within
// the horizon, so there is room.
func (d *windows) insert(sig Signal, x window) {
	l := d.w[sig][:d.n[sig]]
	i := 0
	for i < len(l) && l[i].w < x.w {
		i++
	}
	if i < len(l) && l[i].w == x.w {
		l[i].units += x.units
		l[i].minutes += x.minutes
		return
	}
	copy(d.w[sig][i+1:d.n[sig]+1], l[i:])
	d.w[sig][i] = x
	d.n[sig]++
}

func (d *windows) encode() []byte {
	out := binary.AppendUvarint(make([]byte, 0, 64), uint64(d.latest))
	for sig := range d.n {
		out = d.appendSection(out, Signal(sig))
	}
	return out
}

func (d *windows) appendSection(out []byte, sig Signal) []byte {
	if d.n[sig] == 0 {
		return out
	}
	out = append(out, byte(sig))
	out = binary.AppendUvarint(out, uint64(d.n[sig]))
	for _, w := range d.w[sig][:d.n[sig]] {
		out = binary.AppendUvarint(out, uint64(d.latest-w.w))
		out = binary.AppendUvarint(out, uint64(w.units))
		out = binary.AppendUvarint(out, uint64(w.minutes))
	}
	return out
}

// windowIter walks the stored windows without decoding them to memory (scoring's hot path).
type windowIter struct {
	r      reader
	latest int64
	sig    Signal
	left   int
}

func newWindowIter(b []byte) windowIter {
	it := windowIter{r: reader{b: b}}
	it.latest = int64(it.r.uvarint())
	return it
}

// next returns the next window and its signal; ok is false at the end.
func (it *windowIter) next() (sig Signal, w window, ok bool) {
	for it.left == 0 {
		if it.r.done() {
			return 0, window{}, false
		}
		it.sig, it.left = Signal(it.r.byte()), int(it.r.uvarint())
	}
	it.left--
	w = window{w: it.latest - int64(it.r.uvarint()), units: int64(it.r.uvarint()), minutes: int64(it.r.uvarint())}
	if it.r.bad || it.sig >= numSignals {
		it.left = 0
		return it.next()
	}
	return it.sig, w, true
}

// section locates signal sig's section in b (after the header): [start, end), or the empty
// range where it belongs when absent. ok is false when b is damaged.
func section(b []byte, sig Signal) (start, end int, ok bool) {
	r := reader{b: b}
	r.uvarint()
	for !r.done() {
		start = len(b) - len(r.b)
		s, count := Signal(r.byte()), int(r.uvarint())
		if s > sig {
			return start, start, !r.bad
		}
		for i := 0; i < 3*count && !r.bad; i++ {
			r.skipVarint()
		}
		if s == sig {
			return start, len(b) - len(r.b), !r.bad
		}
	}
	return len(b), len(b), !r.bad
}

// month is one month's spend in one currency.
type month struct {
	cur    [3]byte
	m, amt int64
}

func decodeSpend(b []byte) (latest int64, ms []month) {
	it := newMonthIter(b)
	for m, ok := it.next(); ok; m, ok = it.next() {
		ms = append(ms, m)
	}
	return it.latest, ms
}

// monthIter walks the stored months without allocating.
type monthIter struct {
	r      reader
	latest int64
	cur    [3]byte
	left   int
}

func newMonthIter(b []byte) monthIter {
	it := monthIter{r: reader{b: b}}
	it.latest = int64(it.r.uvarint())
	return it
}

func (it *monthIter) next() (month, bool) {
	for it.left == 0 {
		if it.r.done() {
			return month{}, false
		}
		it.cur, it.left = it.r.code(), int(it.r.uvarint())
	}
	it.left--
	m := month{cur: it.cur, m: it.latest - int64(it.r.uvarint()), amt: it.r.varint()}
	if it.r.bad {
		return month{}, false
	}
	return m, true
}

// encodeSpend writes months sorted by currency, then month.
func encodeSpend(latest int64, ms []month) []byte {
	if len(ms) == 0 {
		return nil
	}
	slices.SortFunc(ms, func(a, b month) int {
		if c := bytes.Compare(a.cur[:], b.cur[:]); c != 0 {
			return c
		}
		return int(a.m - b.m)
	})
	out := binary.AppendUvarint(make([]byte, 0, 8+8*len(ms)), uint64(latest))
	for i := 0; i < len(ms); {
		j := i
		for j < len(ms) && ms[j].cur == ms[i].cur {
			j++
		}
		out = append(out, ms[i].cur[:]...)
		out = binary.AppendUvarint(out, uint64(j-i))
		for _, m := range ms[i:j] {
			out = binary.AppendUvarint(out, uint64(latest-m.m))
			out = binary.AppendVarint(out, m.amt)
		}
		i = j
	}
	return out
}

// reader reads varints; on malformed input it stops (bad) instead of panicking: a damaged
// attribute loses its data, never the customer.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) done() bool { return r.bad || len(r.b) == 0 }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<40 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) skipVarint() {
	for i, c := range r.b {
		if c < 0x80 {
			r.b = r.b[i+1:]
			return
		}
	}
	r.bad = true
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) code() (c [3]byte) {
	if len(r.b) < 3 {
		r.bad = true
		return c
	}
	copy(c[:], r.b)
	r.b = r.b[3:]
	return c
}
