//go:build !linux

package results

type unknownSync struct{}

func (unknownSync) synchronized() (bool, bool, string) {
	return false, false, "this system does not report clock synchronisation; only the date floor was checked"
}

var systemClock syncSource = unknownSync{}
