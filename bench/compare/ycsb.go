package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/client"
	"github.com/pingcap/go-ycsb/pkg/measurement"
	"github.com/pingcap/go-ycsb/pkg/prop"
	_ "github.com/pingcap/go-ycsb/pkg/workload" // registers the core workload
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

const (
	ycsbModule      = "github.com/pingcap/go-ycsb"
	ycsbFieldCount  = 10
	ycsbFieldLength = 100
	ycsbDirProp     = "compare.dir" // the property naming the database directory
)

// YCSB figure identifiers. go-ycsb's own measurement of each operation
// is kept under the phase's identifier, "." and the operation (INSERT,
// READ, UPDATE, READ_MODIFY_WRITE, TOTAL): its operations per second, and
// with ".p99" appended its 99th percentile latency in seconds.
const (
	figYCSBLoad = "ycsbLoad"
	figYCSBA    = "ycsbA"
	figYCSBF    = "ycsbF"
)

// ycsbConfig is the settings of a YCSB run.
type ycsbConfig struct {
	Records    int // recordcount: the records of the load
	Operations int // operationcount of workload A and of workload F
	Threads    int // threadcount of every phase
}

// check rejects the settings that go-ycsb would stop the process for.
func (c *ycsbConfig) check() error {
	switch {
	case c.Threads < 1:
		return errors.New("-ycsb-threads must be at least 1")
	case c.Records < max(c.Threads, 2):
		return errors.New("-ycsb-records must be at least 2 and at least -ycsb-threads")
	case c.Operations < c.Threads:
		return errors.New("-ycsb-ops must be at least -ycsb-threads")
	}
	return nil
}

// ycsbPhase is one run of the go-ycsb client: the load or a workload.
type ycsbPhase struct {
	id    string
	what  string
	ops   int               // the operations it does
	props map[string]string // on top of the common properties
}

// phases returns the load, then workloads A and F with the standard
// properties of YCSB's workloada and workloadf.
func (c *ycsbConfig) phases() []ycsbPhase {
	ops := strconv.Itoa(c.Operations)
	mix := func(read, update, rmw string) map[string]string {
		return map[string]string{
			prop.DoTransactions:            "true",
			prop.OperationCount:            ops,
			prop.ReadProportion:            read,
			prop.UpdateProportion:          update,
			prop.ReadModifyWriteProportion: rmw,
			prop.InsertProportion:          "0",
			prop.ScanProportion:            "0",
			prop.RequestDistribution:       "zipfian",
			// go-ycsb's zipfian key chooser draws from insertstart to
			// insertstart+insertcount inclusive, one key more than the load
			// inserted; one record less here makes it draw exactly the
			// loaded ones, so that no read misses.
			prop.InsertCount: strconv.Itoa(c.Records - 1),
		}
	}
	return []ycsbPhase{
		{figYCSBLoad, "load", c.Records, map[string]string{prop.DoTransactions: "false"}},
		{figYCSBA, "workload A", c.Operations, mix("0.5", "0.5", "0")},
		{figYCSBF, "workload F", c.Operations, mix("0.5", "0", "0.5")},
	}
}

// properties returns the properties of a phase: the common ones, with the
// database directory dir and the measurement output file out, and extra.
// readallfields and writeallfields are true, so that an update replaces
// the whole record (see ycsbDB).
func (c *ycsbConfig) properties(dir, out string, extra map[string]string) (*properties.Properties, error) {
	common := map[string]string{
		prop.Workload:                 "core",
		prop.RecordCount:              strconv.Itoa(c.Records),
		prop.ThreadCount:              strconv.Itoa(c.Threads),
		prop.FieldCount:               strconv.Itoa(ycsbFieldCount),
		prop.FieldLength:              strconv.Itoa(ycsbFieldLength),
		prop.FieldLengthDistribution:  "constant",
		prop.ReadAllFields:            "true",
		prop.WriteAllFields:           "true",
		prop.MeasurementType:          "histogram",
		prop.OutputStyle:              "json",
		prop.MeasurementRawOutputFile: out,
		ycsbDirProp:                   dir,
	}
	p := properties.NewProperties()
	for _, m := range []map[string]string{common, extra} {
		for k, v := range m {
			if _, _, err := p.Set(k, v); err != nil {
				return nil, fmt.Errorf("property %s: %w", k, err)
			}
		}
	}
	return p, nil
}

// ycsbChild opens engine name without fsync in a new database under base,
// runs the load, workload A and workload F on it through the go-ycsb
// client, and returns their figures. The database is removed at the end.
func ycsbChild(name, base string, cfg *ycsbConfig) (*result, error) {
	dir, err := os.MkdirTemp(base, "compare-ycsb-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	defer os.RemoveAll(dir)
	out, err := os.CreateTemp("", "compare-ycsb-measurement-*.json")
	if err != nil {
		return nil, fmt.Errorf("measurement file: %w", err)
	}
	out.Close()
	defer os.Remove(out.Name())
	if ycsb.GetDBCreator(name) == nil {
		ycsb.RegisterDBCreator(name, ycsbCreator{name})
	}
	p, err := cfg.properties(dir, out.Name(), nil)
	if err != nil {
		return nil, err
	}
	db, err := ycsbCreator{name}.open(p)
	if err != nil {
		return nil, err
	}
	res := newResult(name, cfg.Records)
	err = runPhases(name, db, cfg, dir, out.Name(), res)
	if cerr := db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close: %w", cerr))
	}
	return res, err
}

// runPhases runs the phases of cfg one after the other on db.
func runPhases(name string, db *ycsbDB, cfg *ycsbConfig, dir, out string, res *result) error {
	for _, ph := range cfg.phases() {
		p, err := cfg.properties(dir, out, ph.props)
		if err != nil {
			return err
		}
		log.Printf("%s: YCSB %s", name, ph.what)
		if err := runPhase(db, p, ph, res); err != nil {
			return fmt.Errorf("%s: %w", ph.what, err)
		}
		if _, ok := res.Figures[figYCSBLoad]; ok && ph.id == figYCSBLoad {
			if err := db.checkLoad(cfg.Records); err != nil {
				delete(res.Figures, figYCSBLoad)
				res.put(figYCSBLoad)(0, err)
			}
		}
	}
	return nil
}

// runPhase runs one phase through the go-ycsb client and records its
// figures: ph.ops over the wall time of the client's Run, which is YCSB's
// overall throughput, and the throughput and 99th percentile latency of
// each operation as go-ycsb's measurement reports them. A phase in which
// an operation failed gets the first error instead of its throughput.
func runPhase(db *ycsbDB, p *properties.Properties, ph ycsbPhase, res *result) error {
	wc := ycsb.GetWorkloadCreator("core")
	if wc == nil {
		return errors.New("the core workload is not registered")
	}
	wl, err := wc.Create(p)
	if err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	defer wl.Close()
	measurement.InitMeasure(p)
	db.takeErr()
	start := time.Now()
	client.NewClient(p, wl, client.DbWrapper{DB: db}).Run(context.Background())
	elapsed := time.Since(start)
	measurement.Output()
	res.put(ph.id)(float64(ph.ops)/elapsed.Seconds(), db.takeErr())
	return readMeasurement(p.GetString(prop.MeasurementRawOutputFile, ""), ph.id, res)
}

// readMeasurement reads the JSON that measurement.Output wrote to the file
// name and records each operation's throughput and 99th percentile
// latency under id.
func readMeasurement(name, id string, res *result) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read measurement: %w", err)
	}
	var rows []map[string]string
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &rows); err != nil {
			return fmt.Errorf("parse measurement: %w", err)
		}
	}
	for _, row := range rows {
		op := row["Operation"]
		ops, err1 := strconv.ParseFloat(row["OPS"], 64)
		p99, err2 := strconv.ParseFloat(row["99th(us)"], 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("measurement of %s: %w", op, err)
		}
		res.Figures[id+"."+op] = ops
		res.Figures[id+"."+op+".p99"] = p99 / 1e6
	}
	return nil
}

// ycsbFigures returns the rows of the YCSB table: the throughput of each
// phase, then go-ycsb's measurement of each operation.
func ycsbFigures() []figure {
	best := func() *target { return &target{"", 1.5, "≥ 1.5× best"} }
	figs := []figure{
		{figYCSBLoad, "load: insert every record (ops/s)", perSecond, true, best()},
		{figYCSBA, "workload A: 50% read, 50% update (ops/s)", perSecond, true, best()},
		{figYCSBF, "workload F: 50% read, 50% read-modify-write (ops/s)", perSecond, true, best()},
	}
	ops := []struct{ id, op, label string }{
		{figYCSBA, "READ", "A: READ"},
		{figYCSBA, "UPDATE", "A: UPDATE"},
		{figYCSBF, "READ", "F: READ, the reads of READ_MODIFY_WRITE included"},
		{figYCSBF, "READ_MODIFY_WRITE", "F: READ_MODIFY_WRITE"},
	}
	for _, o := range ops {
		figs = append(figs, figure{o.id + "." + o.op, o.label + " (ops/s, go-ycsb measurement)", perSecond, true, nil})
	}
	ops = append([]struct{ id, op, label string }{{figYCSBLoad, "INSERT", "load: INSERT"}}, ops...)
	for _, o := range ops {
		figs = append(figs, figure{o.id + "." + o.op + ".p99", o.label + ", 99th percentile latency", seconds, false, nil})
	}
	return figs
}

// printYCSBTable writes the Markdown table of a YCSB run and its notes.
func printYCSBTable(w io.Writer, rep *report, results []*result, figs []figure) {
	y := rep.YCSB
	fmt.Fprintf(w, "YCSB through the go-ycsb client, core workload: recordcount=%d, fieldcount=%d, fieldlength=%d, "+
		"threadcount=%d, operationcount=%d for A and for F, requestdistribution=zipfian, "+
		"readallfields=true, writeallfields=true; no fsync; GOMAXPROCS=%d; best of %d rounds; %s; %s\n\n",
		y.Records, ycsbFieldCount, ycsbFieldLength, y.Threads, y.Operations,
		rep.GOMAXPROCS, len(rep.Runs[0]), rep.Go, rep.Date)
	printRows(w, results, figs, "target")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A phase's ops/s is its operations over the wall time of the client's Run, YCSB's overall throughput. "+
		"The per-operation rows are go-ycsb's own measurement: an operation's count over the time since its first call.")
	fmt.Fprintln(w)
	printVersions(w, rep.Versions, ycsbModule)
	fmt.Fprintln(w)
}
