module github.com/minikv/minikv

go 1.26.0

require (
	github.com/gofrs/flock v0.13.2
	github.com/leanovate/gopter v0.2.11
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.50.0
)
