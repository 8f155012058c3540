// Command minikv inspects, edits, checks, backs up and benchmarks MiniKV
// databases. Run "minikv help" for the list of subcommands.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}
