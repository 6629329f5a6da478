// Package expect is the bench's self-check against the simulated lab
// (fixtures/sim): which verdicts each of the lab's known flaws calls for.
// The table lives here once; `bench demo` and the matrix test in this
// package both read it, so the demo can never expect what the tests do not.
//
// # The table
//
// Table has one Row per flaw sim.Flaws lists: the cases (as "SUITE/ID", the
// id a record gives them) that must FAIL on a unit built with that flaw. A
// unit is expected to get exactly that: FAIL for every case its flaws list,
// and PASS or NOT_APPLICABLE for every other case of every suite that
// exists (suites.All). So a good unit passes everything, and a flaw does
// not leak into verdicts of cases that have nothing to do with it.
//
// Only cases that exist have expectations. A flaw whose row lists no case
// is one no suite finds yet; Row.Pending names the suite to come, and the
// demo says "no case yet" for it rather than letting an unrelated PASS look
// like the flaw was looked for. When a suite lands, its cases go into the
// rows of the flaws they find, and the demo and the matrix test check them
// with no other change. The package's tests refuse a row that names a case
// no suite has, a flaw without a row, and a row given twice.
//
// # The units
//
// Units plans a lab in which every flaw is on some unit, with one good unit
// first; every unit is the same product (the SimCam SC-100), so a case that
// compares two units of one product has them. With fewer units than flaws,
// flaws share units (never two of the password flaws, which the lab
// refuses); a unit's expectations are then the union of its flaws' rows.
package expect
