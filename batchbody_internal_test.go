package minikv

import "encoding/binary"

// appendBatchBody appends a batch body made of a count and already encoded
// operations, for tests that build hostile batches by hand.
func appendBatchBody(dst []byte, count int, ops []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, ops...)
}

// decodeBatch decodes a recBatch body into its operations, for the fuzz
// targets; recovery walks batches with walkBatch instead. The count is
// checked against the bytes left before anything is allocated.
func decodeBatch(body []byte) ([]walOp, bool) {
	count, n := binary.Uvarint(body)
	if n <= 0 || count == 0 || count > uint64(len(body)-n)/3 {
		return nil, false
	}
	ops := make([]walOp, 0, count)
	if !walkBatch(body, func(op walOp) { ops = append(ops, op) }) {
		return nil, false
	}
	return ops, true
}
