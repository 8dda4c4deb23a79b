package replicator

import (
	"testing"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

func TestMain(m *testing.M) { rmqtest.Main(m) }
