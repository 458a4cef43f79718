// oci-tool: the OCI side of flux-monitor's conformance suite (test/conformance/oci.test.ts).
//
//	oci-tool registry [--addr 127.0.0.1:0]
//	    Serves an in-memory OCI registry (go-containerregistry's pkg/registry) on loopback over plain HTTP and
//	    prints "listening on http://HOST:PORT" once it accepts connections. Runs until killed.
//	oci-tool push --url oci://HOST:PORT/REPO:TAG --path DIR [--source URL] [--revision REV] [--created RFC3339]
//	    Packs DIR into a Flux artifact and pushes it with github.com/fluxcd/pkg/oci, the library and the call that
//	    `flux push artifact` uses (same Metadata → annotations: org.opencontainers.image.source, .revision,
//	    .created), and prints the digest URL. An empty --revision writes an empty revision annotation, as
//	    pkg/oci does.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "registry":
		serve(os.Args[2:])
	case "push":
		push(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oci-tool registry [--addr 127.0.0.1:0] | oci-tool push --url oci://HOST:PORT/REPO:TAG --path DIR [--source URL] [--revision REV] [--created RFC3339]")
	os.Exit(2)
}

func serve(args []string) {
	fs := flag.NewFlagSet("registry", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	_ = fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("oci-tool registry: %v", err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr().String())
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(os.Stderr, "registry: ", log.LstdFlags))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.Serve(ln))
}

func push(args []string) {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	url := fs.String("url", "", "oci://HOST:PORT/REPO:TAG")
	path := fs.String("path", "", "directory to pack")
	source := fs.String("source", "", "org.opencontainers.image.source (flux push artifact --source)")
	revision := fs.String("revision", "", "org.opencontainers.image.revision (flux push artifact --revision)")
	created := fs.String("created", "", "org.opencontainers.image.created, RFC 3339 (default: now)")
	_ = fs.Parse(args)
	if !strings.HasPrefix(*url, oci.OCIRepositoryPrefix) || *path == "" {
		usage()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// As `flux push artifact --insecure-registry`: plain HTTP (a loopback registry is HTTP anyway).
	client := oci.NewClient(append(oci.DefaultOptions(), crane.Insecure))
	meta := oci.Metadata{Source: *source, Revision: *revision, Created: *created}
	digestURL, err := client.Push(ctx, strings.TrimPrefix(*url, oci.OCIRepositoryPrefix), *path, oci.WithPushMetadata(meta))
	if err != nil {
		log.Fatalf("oci-tool push: %v", err)
	}
	fmt.Println(digestURL)
}
