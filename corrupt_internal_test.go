package minikv

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikv/minikv/internal/vfstest"
)

// Corruption tables: truncate and flip the bytes of small WAL segments,
// snapshots and MANIFESTs, and check that Open either fails with
// ErrCorrupt or recovers a legitimate prefix, never panics and never
// returns wrong data, and that Verify agrees with Open.

// corruptFixture is a small database in a MemFS with its history.
type corruptFixture struct {
	fs     *vfstest.MemFS
	clk    *FakeClock
	states []crashState // states[i]: the state after the first i records
}

// newCorruptFixture writes n sets and deletes with SyncAlways into one
// WAL segment (or several, with a small segLimit) and closes the database.
func newCorruptFixture(t *testing.T, n int, segLimit int64, compact bool) *corruptFixture {
	t.Helper()
	f := &corruptFixture{fs: vfstest.NewMemFS(crashDir), clk: NewFakeClock()}
	opts := crashOptions(f.fs, f.clk, SyncAlways)
	opts.SegmentSize = segLimit
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := crashState{}
	f.states = append(f.states, maps.Clone(s))
	for i := range n {
		k := fmt.Sprintf("key%d", i%5)
		if i%4 == 3 {
			err = db.Delete(k)
			delete(s, k)
		} else {
			v := fmt.Sprintf("value-%d-%s", i, strings.Repeat("z", i%7))
			err = db.Set(k, []byte(v))
			s[k] = crashVal{value: v}
		}
		if err != nil {
			t.Fatal(err)
		}
		f.states = append(f.states, maps.Clone(s))
	}
	if compact {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

// open opens a copy of the fixture's files with name replaced by data
// (nil to remove it) and returns the state it recovered or the error, and
// what Verify said of the damaged files before the Open.
func (f *corruptFixture) open(name string, data []byte, salvage bool) (crashState, *VerifyReport, error) {
	img := f.fs.Clone()
	path := filepath.Join(crashDir, name)
	if data == nil {
		img.Remove(path)
	} else {
		img.WriteFileNow(path, data)
	}
	rep, verr := verifyFS(img, crashDir)
	if verr != nil && !errors.Is(verr, ErrCorrupt) {
		return nil, rep, fmt.Errorf("verify: %w", verr)
	}
	opts := crashOptions(img, f.clk, SyncAlways)
	opts.SalvageCorruptWAL = salvage
	db, err := Open(opts)
	if err != nil {
		return nil, rep, err
	}
	defer db.Close()
	s, err := crashDump(db)
	return s, rep, err
}

// walRecords returns the end offset of each record of a segment.
func walRecords(data []byte) []int {
	var ends []int
	off := 0
	for {
		r, ok := readRecord(data[off:])
		if !ok {
			return ends
		}
		off += r.size
		ends = append(ends, off)
	}
}

// TestCorrupt_TruncateWAL cuts the only WAL segment at every byte offset:
// Open must succeed with exactly the records wholly before the cut, and
// Verify must call the rest a torn tail.
func TestCorrupt_TruncateWAL(t *testing.T) {
	f := newCorruptFixture(t, 12, 1<<20, false)
	name := segmentName(1)
	data := cutCloseMark(f.fs.ReadFileNow(filepath.Join(crashDir, name)))
	ends := walRecords(data)
	if len(ends) != 12 || ends[len(ends)-1] != len(data) {
		t.Fatalf("fixture has %d records, want 12", len(ends))
	}
	for cut := 0; cut <= len(data); cut++ {
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		got, rep, err := f.open(name, data[:cut], false)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if !maps.Equal(got, f.states[whole]) {
			t.Fatalf("cut at %d: recovered %v, want the first %d records", cut, got, whole)
		}
		torn := cut > 0 && (whole == 0 || ends[whole-1] != cut)
		if !rep.OK() || (rep.TornTail != nil) != torn {
			t.Fatalf("cut at %d: Verify problems %v, torn tail %v, want torn=%v", cut, rep.Problems, rep.TornTail, torn)
		}
	}
}

// TestCorrupt_FlipWAL flips every byte of a small WAL segment in turn.
// Damage in the last record is a torn tail: Open recovers the records
// before it. Damage in an earlier record is followed by valid records:
// Open fails with ErrCorrupt, or recovers the records before it when
// SalvageCorruptWAL is set. Verify agrees.
func TestCorrupt_FlipWAL(t *testing.T) {
	f := newCorruptFixture(t, 8, 1<<20, false)
	name := segmentName(1)
	data := f.fs.ReadFileNow(filepath.Join(crashDir, name))
	ends := walRecords(data)
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			rec := 0
			for ends[rec] <= i {
				rec++
			}
			last := rec == len(ends)-1
			bad := []byte(string(data))
			bad[i] ^= mask
			got, rep, err := f.open(name, bad, false)
			where := fmt.Sprintf("byte %d (record %d) ^ %#x", i, rec, mask)
			switch {
			case last && err != nil:
				t.Fatalf("%s: damage in the last record: %v, want a torn-tail recovery", where, err)
			case last && !maps.Equal(got, f.states[rec]):
				t.Fatalf("%s: recovered %v, want the first %d records", where, got, rec)
			case last && (!rep.OK() || rep.TornTail == nil):
				t.Fatalf("%s: Verify problems %v, torn tail %v, want a torn tail", where, rep.Problems, rep.TornTail)
			case !last && !errors.Is(err, ErrCorrupt):
				t.Fatalf("%s: mid-log damage: %v, want ErrCorrupt", where, err)
			case !last && rep.OK():
				t.Fatalf("%s: Verify found no problem in mid-log damage", where)
			}
			if last {
				continue
			}
			got, _, err = f.open(name, bad, true)
			if err != nil || !maps.Equal(got, f.states[rec]) {
				t.Fatalf("%s: salvage: %v, %v, want the first %d records", where, got, err, rec)
			}
		}
	}
}

// TestCorrupt_EarlierSegment damages a sealed segment while later segments
// are intact: ErrCorrupt, or the prefix before the damage with
// SalvageCorruptWAL. A missing middle segment is ErrCorrupt too.
func TestCorrupt_EarlierSegment(t *testing.T) {
	f := newCorruptFixture(t, 12, 64, false)
	names := f.fs.ListNow(crashDir)
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, walExt) {
			segs = append(segs, n)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("fixture has segments %v, want 3 or more", segs)
	}
	before := 0 // records in the segments before the damaged one
	for _, seg := range segs[:len(segs)-1] {
		data := f.fs.ReadFileNow(filepath.Join(crashDir, seg))
		n := len(walRecords(data))
		if n == 0 {
			continue
		}
		for _, cut := range []int{len(data) - 1, len(data) / 2} {
			bad := []byte(string(data))
			bad[cut] ^= 0x55
			if _, rep, err := f.open(seg, bad, false); !errors.Is(err, ErrCorrupt) || rep.OK() {
				t.Fatalf("%s damaged at %d: %v (Verify %v), want ErrCorrupt", seg, cut, err, rep.Problems)
			}
			got, _, err := f.open(seg, bad, true)
			rec := before + len(walRecords(bad))
			if err != nil || !maps.Equal(got, f.states[rec]) {
				t.Fatalf("%s damaged at %d, salvage: %v, %v, want the first %d records", seg, cut, got, err, rec)
			}
		}
		if _, rep, err := f.open(seg, nil, false); !errors.Is(err, ErrCorrupt) || rep.OK() {
			t.Fatalf("%s removed: %v (Verify %v), want ErrCorrupt", seg, err, rep.Problems)
		}
		before += n
	}
}

// TestCorrupt_FlipSnapshot flips every byte of a small snapshot: every one
// is covered by its CRC, so Open must fail with ErrCorrupt, and so must
// a truncated snapshot or a missing one.
func TestCorrupt_FlipSnapshot(t *testing.T) {
	f := newCorruptFixture(t, 9, 1<<20, true)
	man, _, err := readManifest(f.fs, crashDir)
	if err != nil || man.snapshot == "" {
		t.Fatalf("fixture MANIFEST %+v, %v: want a snapshot", man, err)
	}
	data := f.fs.ReadFileNow(filepath.Join(crashDir, man.snapshot))
	check := func(what string, bad []byte) {
		t.Helper()
		got, rep, err := f.open(man.snapshot, bad, false)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), man.snapshot[:16]) {
			t.Fatalf("%s: Open %v (state %v), want ErrCorrupt naming the file", what, err, got)
		}
		if rep.OK() {
			t.Fatalf("%s: Verify found no problem", what)
		}
	}
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := []byte(string(data))
			bad[i] ^= mask
			check(fmt.Sprintf("byte %d ^ %#x", i, mask), bad)
		}
	}
	for cut := 0; cut < len(data); cut++ {
		check(fmt.Sprintf("cut at %d", cut), data[:cut])
	}
	check("missing", nil)
}

// TestCorrupt_FlipManifest flips every byte of a MANIFEST: Open must fail
// with ErrCorrupt, or open the right data when the flip kept the meaning.
func TestCorrupt_FlipManifest(t *testing.T) {
	f := newCorruptFixture(t, 9, 1<<20, true)
	data := f.fs.ReadFileNow(filepath.Join(crashDir, manifestName))
	want := f.states[len(f.states)-1]
	check := func(what string, bad []byte) {
		t.Helper()
		got, rep, err := f.open(manifestName, bad, false)
		if err == nil && !maps.Equal(got, want) {
			t.Fatalf("%s: Open recovered %v, want %v or ErrCorrupt", what, got, want)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Open %v, want ErrCorrupt", what, err)
		}
		if (err == nil) != rep.OK() {
			t.Fatalf("%s: Open %v but Verify problems %v", what, err, rep.Problems)
		}
	}
	for i := range data {
		for _, mask := range []byte{0x01, 0x20, 0x80, 0xff} {
			bad := []byte(string(data))
			bad[i] ^= mask
			check(fmt.Sprintf("byte %d ^ %#x", i, mask), bad)
		}
	}
	for cut := 0; cut < len(data); cut++ {
		check(fmt.Sprintf("cut at %d", cut), data[:cut])
	}
	check("missing", nil)
}

// TestCorrupt_VerifyReports checks what Verify says of directories that
// Open refuses or never wrote: an empty one, a MANIFEST missing beside
// data, a snapshot the MANIFEST names but that is gone, one whose WAL
// sequence disagrees with the MANIFEST, and a malformed record body.
func TestCorrupt_VerifyReports(t *testing.T) {
	empty := vfstest.NewMemFS(crashDir)
	if rep, err := verifyFS(empty, crashDir); err != nil || !rep.OK() {
		t.Fatalf("empty directory: %v, %+v", err, rep)
	}
	f := newCorruptFixture(t, 6, 1<<20, true)
	cases := []struct {
		name   string
		damage func(m *vfstest.MemFS)
		file   string
	}{
		{"manifest missing beside a snapshot", func(m *vfstest.MemFS) { m.Remove(filepath.Join(crashDir, manifestName)) }, manifestName},
		{"manifest missing beside segments", func(m *vfstest.MemFS) {
			m.Remove(filepath.Join(crashDir, manifestName))
			for _, n := range m.ListNow(crashDir) {
				if strings.HasSuffix(n, snapExt) {
					m.Remove(filepath.Join(crashDir, n))
				}
			}
			m.WriteFileNow(filepath.Join(crashDir, segmentName(9)), appendSetRecord(nil, 1, -1, "k", nil, 0))
		}, manifestName},
		{"snapshot missing", func(m *vfstest.MemFS) {
			man, _, _ := readManifest(m, crashDir)
			m.Remove(filepath.Join(crashDir, man.snapshot))
		}, manifestName},
		{"snapshot of another sequence", func(m *vfstest.MemFS) {
			man, _, _ := readManifest(m, crashDir)
			man.walStart++
			m.WriteFileNow(filepath.Join(crashDir, manifestName), man.encode())
		}, "snap"},
		{"malformed record body", func(m *vfstest.MemFS) {
			man, _, _ := readManifest(m, crashDir)
			m.WriteFileNow(filepath.Join(crashDir, segmentName(man.walStart)), appendRecord(nil, recDelete, 1, -1, []byte{5, 'k'}))
		}, walExt},
	}
	for _, tc := range cases {
		img := f.fs.Clone()
		tc.damage(img)
		rep, err := verifyFS(img, crashDir)
		if !errors.Is(err, ErrCorrupt) || rep.OK() || !strings.Contains(rep.Problems[0].String(), tc.file) {
			t.Errorf("%s: %v, %+v", tc.name, err, rep)
		}
		if _, err := Open(crashOptions(img, f.clk, SyncAlways)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Open: %v, want ErrCorrupt like Verify", tc.name, err)
		}
	}
}
