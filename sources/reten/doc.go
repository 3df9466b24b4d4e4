// Package reten is the client of Reten's pull integration API: list the task activities
// (one page, or every page of a listing streamed page by page), check that one task is
// still listed, list the tenant's result types, and submit a task result, authenticated
// with an x-api-key. The key goes only to the configured host: a redirect elsewhere is an
// error.
//
// A listing is bounded whatever Reten answers (see StreamTasks): pages are decoded in one
// pass into reused buffers, and a lying meta, pages that never end or repeat, a body too
// large or of the wrong shape end the walk with an error or an honest summary.
//
// Every failure is an *Error that tells its class through errors.Is with the schema.Err*
// sentinels (auth, transient, rejected, conflict), so callers decide what to do without
// knowing HTTP. Where Reten's documentation is silent (the full task item, the pagination
// meta, the success body of a submit) the client is tolerant: it keeps each task's raw JSON
// byte for byte, requires only its id, accepts any 2xx, and works without meta.
package reten
