// openapi_check: the judge of svcd's OpenAPI document, with kin-openapi (Debian's
// golang-github-getkin-kin-openapi-dev) rather than our own reading of the spec.
//
//	openapi_check SOCKET [PATH...]
//
// Fetches /v1/openapi.json over svcd's unix socket and validates it as OpenAPI 3.0. Then GETs
// each PATH (with its query) over the same socket, finds the operation the document gives
// for it, and validates svcd's real answer against that operation: status, content type and
// body schema (message schemas are closed, so a field the document lacks is an error too).
// Exits 0 when everything holds, 1 with each problem on stderr.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: openapi_check SOCKET [PATH...]")
		os.Exit(2)
	}
	socket := os.Args[1]
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	get := func(path string) (*http.Response, []byte, error) {
		res, err := client.Get("http://svcd" + path)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res, body, err
	}

	res, raw, err := get("/v1/openapi.json")
	if err != nil || res.StatusCode != 200 {
		fmt.Fprintf(os.Stderr, "GET /v1/openapi.json: %v (status %v)\n", err, res)
		os.Exit(1)
	}
	// The checker's own test: a document from a file (one with a field taken out) must fail.
	if file := os.Getenv("OPENAPI_CHECK_DOC"); file != "" {
		if raw, err = os.ReadFile(file); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "the document does not load:", err)
		os.Exit(1)
	}
	if err := doc.Validate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "the document is not valid OpenAPI 3.0:", err)
		os.Exit(1)
	}
	// The document's servers entry is the unix socket's http://svcd.
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "no router from the document:", err)
		os.Exit(1)
	}
	fmt.Printf("document: OpenAPI %s, %d paths, %d schemas: valid\n", doc.OpenAPI,
		len(doc.Paths), len(doc.Components.Schemas))

	failed := 0
	for _, path := range os.Args[2:] {
		req, _ := http.NewRequest(http.MethodGet, "http://svcd"+path, nil)
		route, params, err := router.FindRoute(req)
		if err != nil {
			fmt.Fprintf(os.Stderr, "GET %s: not in the document: %v\n", path, err)
			failed++
			continue
		}
		res, body, err := get(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "GET %s: %v\n", path, err)
			failed++
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			fmt.Fprintf(os.Stderr, "GET %s: the request does not fit the document: %v\n", path, err)
			failed++
			continue
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 res.StatusCode,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			fmt.Fprintf(os.Stderr, "GET %s (%d): the answer does not fit the document: %v\n", path,
				res.StatusCode, err)
			failed++
			continue
		}
		fmt.Printf("GET %s: %d %s, fits %s\n", path, res.StatusCode, res.Header.Get("Content-Type"),
			route.Operation.OperationID)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d answers do not fit\n", failed, len(os.Args)-2)
		os.Exit(1)
	}
}
