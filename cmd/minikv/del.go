package main

// delCmd is "minikv del".
var delCmd = &command{
	name:    "del",
	args:    "KEY...",
	summary: "delete keys",
	doc: `Del deletes each KEY, all of them in one atomic batch, and prints nothing.
Deleting a missing key is not an error.

Del never creates a store: it fails when the directory holds none. It needs
the store to itself: it fails while another process has it open.`,
	run: runDel,
}

// runDel deletes the keys given, in one batch.
func runDel(c *cmdCtx, args []string) error {
	keys, err := c.parse(args, 1, -1)
	if err != nil {
		return err
	}
	db, err := c.openWrite()
	if err != nil {
		return err
	}
	if len(keys) == 1 {
		return closeDB(db, db.Delete(keys[0]))
	}
	b := db.NewBatch()
	for _, k := range keys {
		b.Delete(k)
	}
	return closeDB(db, b.Write())
}
