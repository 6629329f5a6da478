// Package reset holds the factory-reset suite: each deletion function the
// manufacturer declares must erase user data and bring the unit back to
// its set-up state (EN 303 645 5.11-1, and 5.1-1 again after the reset;
// TS 103 701 5.11-1-2a–c and 5.1-1-2b; PSTI 1; EN 18031 DLM-1; CRA Annex I
// (2)(b),(m)).
//
// # One case per method
//
// The declarations list the deletion functions (deletion[] in the
// declarations file) and a suite's case list is fixed in source, so there
// is one case per method a function can have: console, button and web.
// Each tests every declared function of its method in turn and names the
// function in every check and in its verdict; a method the declarations
// do not use is NOT_APPLICABLE. A button function on a fixture with no
// button line, and any web function (the bench has no web trigger yet),
// is INCONCLUSIVE naming the functions left untested.
//
// # What a function's test does
//
// TS 103 701 5.11-1-2 in three steps, on the console, after the case has
// switched the unit on, read its boot banner with the profile's identify
// procedure (so no prompt the boot before printed as the runner cut its
// power answers the login) and logged in: with the label's password, or
// on a unit whose passwords are user_defined by setting a fresh one in its
// set-up state. A console that gives a shell at power-on with no login is
// FAIL: there is no authenticated set-up state for a reset to return to
// (5.1-1).
//
//   - (a) user data: the profile's create-user-data procedure, given
//     values made fresh for the run (an account and its password, a Wi-Fi
//     SSID and PSK, a paired phone app, a user file and its text, a log
//     line), so nothing an earlier run left can pass or fail this one.
//     Then every command of the profile's commands is run and its output
//     kept as evidence ("before"), and the firmware version read;
//   - (b) the function, triggered as a user does: the declared command
//     typed at the shell, or the reset button held through the fixture's
//     line for the declared time and a fifth more (exactly the declared
//     time would race the unit's own timer at its edge);
//   - (c) the unit must reach its set-up state (a login prompt; on a unit
//     whose passwords are user_defined, a request for a new password, which
//     the case answers through the profile's set-password procedure) within
//     the profile's boot time (its login procedure's first wait: the
//     declarations give no time for a reset), log in again (the label's
//     password, or the one just set), show none of the seeded values in any
//     command's output ("after"), run the same firmware version (a reset is
//     no downgrade), and refuse the old credentials on the console: the
//     seeded account, and a user-set unit's password from before the reset.
//
// A seeded value left behind is FAIL when the function declares it erases
// that kind of data (deletion[].erases), and noted in the transcript
// otherwise. A kind the function declares it erases and whose seeded
// values did not show in any command's output even before the reset
// cannot be judged: INCONCLUSIVE, naming the kind, unless something else
// already failed. Accounts are judged by the refused login; settings have
// no canary (create-user-data changes none) and are noted as unchecked.
//
// A user-set unit is left as it was found, in its set-up state: after the
// last function the case triggers it once more, unjudged.
//
// Not yet checked: old credentials on the network interfaces, canaries in
// the network services' answers, and universal default passwords after a
// reset (the default-credentials suite's cases are to be reused for that).
package reset
