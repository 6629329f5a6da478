package powertest

import (
	"errors"
	"slices"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

func TestPin(t *testing.T) {
	p := Register(t, "GPIO5", gpio.Low)
	if gpioreg.ByName("GPIO5") != p {
		t.Fatal("not registered under its name")
	}
	if err := NewPin("GPIO5", gpio.Low).Register(); err == nil {
		t.Error("a second GPIO5 registered")
	}
	var followed []gpio.Level
	p.Follow(func(l gpio.Level) {
		// Called after the write: the pin already reads l.
		if p.Read() != l {
			t.Errorf("follower saw %s, pin reads %s", l, p.Read())
		}
		followed = append(followed, l)
	})
	p.Out(gpio.High)
	p.FailLevel(gpio.Low, errors.New("stuck"))
	if err := p.Out(gpio.Low); err == nil || p.Read() != gpio.High {
		t.Errorf("Out(Low) on a stuck line = %v, reads %s; want an error and High kept", err, p.Read())
	}
	p.FailLevel(gpio.Low, nil)
	p.Out(gpio.Low)
	want := []gpio.Level{gpio.High, gpio.Low}
	if !slices.Equal(p.Writes(), want) || !slices.Equal(followed, want) {
		t.Errorf("writes %v, followed %v, want %v", p.Writes(), followed, want)
	}
}
