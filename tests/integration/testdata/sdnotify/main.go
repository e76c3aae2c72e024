// sdnotify is a container program for the NOTIFY_SOCKET tests: it prints
// its NOTIFY_SOCKET, waits the given duration, sends READY=1 there, and
// then lives on for the second duration.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	before, _ := time.ParseDuration(os.Args[1])
	after, _ := time.ParseDuration(os.Args[2])
	path := os.Getenv("NOTIFY_SOCKET")
	fmt.Println("NOTIFY_SOCKET=" + path)
	time.Sleep(before)
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdnotify:", err)
		os.Exit(1)
	}
	if _, err := conn.Write([]byte("STATUS=starting\nREADY=1")); err != nil {
		fmt.Fprintln(os.Stderr, "sdnotify:", err)
		os.Exit(1)
	}
	time.Sleep(after)
}
