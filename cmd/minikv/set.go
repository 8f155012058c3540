package main

import (
	"fmt"
	"io"

	"github.com/minikv/minikv"
)

// setCmd is "minikv set".
var setCmd = &command{
	name:    "set",
	args:    "KEY VALUE",
	summary: "store a value under a key",
	doc: `Set stores VALUE under KEY, replacing any value and any expiry, and prints
nothing. A VALUE of "-" reads the value from standard input, byte for byte
(so "printf %s - | minikv set KEY -" stores a lone dash). With -ttl the key
expires after the given duration ("90s", "10m", "24h").

Set creates the store when the directory holds none: in a missing or empty
directory, or with -init in one that holds other files. A set that fails
leaves no new store behind. It needs the store to itself: it fails while
another process has it open. Use "--" before a key or value that starts
with a dash: "minikv set -dir d -- -k -v".`,
	run: runSet,
}

// runSet stores a value under a key, creating the store if need be.
func runSet(c *cmdCtx, args []string) error {
	ttl := c.fs.Duration("ttl", 0, "expire the key after this `duration` (0: never)")
	c.initFlag()
	pos, err := c.parse(args, 2, 2)
	if err != nil {
		return err
	}
	if *ttl < 0 {
		return fmt.Errorf("%w: %v, -ttl must be positive, or 0 for no expiry", minikv.ErrInvalidTTL, *ttl)
	}
	value := []byte(pos[1])
	if pos[1] == "-" {
		if value, err = readValue(c.stdin); err != nil {
			return err
		}
	}
	db, err := c.openCreate()
	if err != nil {
		return err
	}
	if *ttl > 0 {
		err = db.SetWithTTL(pos[0], value, *ttl)
	} else {
		err = db.Set(pos[0], value)
	}
	return closeDB(db, err)
}

// readValue reads a whole value from r, refusing one over MaxValueSize
// without reading further: the error, matching minikv.ErrValueTooLarge,
// gives the limit, since the size is not known.
func readValue(r io.Reader) ([]byte, error) {
	v, err := io.ReadAll(io.LimitReader(r, minikv.MaxValueSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the value from standard input: %w", err)
	}
	if len(v) > minikv.MaxValueSize {
		return nil, fmt.Errorf("%w: standard input holds more than the limit of %d bytes", minikv.ErrValueTooLarge, minikv.MaxValueSize)
	}
	return v, nil
}
