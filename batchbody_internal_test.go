package minikv

import "encoding/binary"

// appendBatchBody appends a batch body made of a count and already encoded
// operations, for tests that build hostile batches by hand.
func appendBatchBody(dst []byte, count int, ops []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, ops...)
}
