// Command pause is the local cluster's pod sandbox ("infra") container: it holds
// the pod's namespaces open and does nothing else, like registry.k8s.io/pause.
//
// As PID 1 of the pod's PID namespace (when the pod shares it) it also reaps
// orphaned children, so zombies do not pile up. It exits 0 on SIGTERM or SIGINT,
// which is how the kubelet stops a sandbox. Built with CGO_ENABLED=0 into a static
// binary, the whole image is this one file.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set with -ldflags "-X main.version=..." by scripts/build-images.
var version = "dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not PID 1; orphans are reaped only when PID 1")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", sig)
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking (SIGCHLD signals coalesce,
// so one signal may stand for several children).
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
