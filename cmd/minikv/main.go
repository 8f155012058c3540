// Command minikv inspects, edits, checks, backs up and benchmarks MiniKV
// databases. Run "minikv help" for the list of subcommands.
package main

import "os"

// main runs the command line and exits with its code.
func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}
