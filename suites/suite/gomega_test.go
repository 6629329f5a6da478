package suite_test

import (
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

func gomegaEqual(v any) types.GomegaMatcher { return gomega.Equal(v) }
