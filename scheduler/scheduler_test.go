package scheduler

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Strategy
	}{
		{"", stickyStrategy{}},
		{ConsistentHash, consistentHashStrategy{}},
		{javaConsistentHash, consistentHashStrategy{}},
		{RoundRobin, roundRobin{}},
		{javaRoundRobin, roundRobin{}},
		{StickyName, stickyStrategy{}},
	} {
		s, err := New(tc.name)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, s, tc.name)
	}
	_, err := New("AllocateMessageQueueAveragely")
	require.ErrorIs(t, err, ErrUnknownStrategy)
	require.ErrorContains(t, err, "AllocateMessageQueueAveragely")
}

func TestUnit(t *testing.T) {
	require.Equal(t, "conn", Unit{"conn", ConnectorTask}.String())
	require.Equal(t, "conn-3", Unit{"conn", 3}.String())
	require.True(t, Unit{"conn", ConnectorTask}.IsConnector())
	require.Equal(t, []Unit{{"c", -1}, {"c", 0}, {"c", 1}}, Units("c", 2))
	require.Negative(t, Unit{"a", 5}.Compare(Unit{"b", -1}))
	require.Negative(t, Unit{"a", -1}.Compare(Unit{"a", 0}))
	require.Negative(t, Unit{"a", 2}.Compare(Unit{"a", 10}))
}

// RocketMQ Connect's DefaultAllocateConnAndTaskStrategyTest, through the Go API.
func TestRoundRobinMatchesJava(t *testing.T) {
	s, err := New(javaRoundRobin)
	require.NoError(t, err)
	var us []Unit
	for i, n := range []int{1, 2, 3} {
		us = append(us, Units("connectorConfig"+string(rune('1'+i)), n)...)
	}
	a, err := s.Assign([]string{"workId3", "workId1", "workId2"}, us)
	require.NoError(t, err)
	require.Equal(t, []Unit{{"connectorConfig2", 1}, {"connectorConfig3", -1}, {"connectorConfig3", 2}}, a["workId3"])
}

func TestMovement(t *testing.T) {
	old := Assignment{"w1": {{"a", -1}, {"a", 0}}, "w2": {{"a", 1}, {"b", 0}}}
	nw := Assignment{"w2": {{"a", -1}, {"a", 1}}, "w3": {{"a", 0}, {"c", 0}}}
	moved, per := movement(old, nw)
	require.Equal(t, 2, moved) // a and a-0; b-0 is removed, c-0 is new
	require.Equal(t, map[string]moves{
		"w1": {Stop: []Unit{{"a", -1}, {"a", 0}}},
		"w2": {Stop: []Unit{{"b", 0}}, Start: []Unit{{"a", -1}}},
		"w3": {Start: []Unit{{"a", 0}, {"c", 0}}},
	}, per)

	moved, per = movement(nw, nw)
	require.Zero(t, moved)
	require.Empty(t, per)
}

func TestMinMoves(t *testing.T) {
	old := Assignment{"w1": make([]Unit, 4), "w2": make([]Unit, 5), "w3": make([]Unit, 3)}
	require.Equal(t, 5, MinMoves(old, []string{"w1", "w3"}, 12))                 // w2 leaves with 5
	require.Equal(t, 3, MinMoves(old, []string{"w1", "w2", "w3", "w4"}, 12))     // floor(12/4)
	require.Equal(t, 3+2*3, MinMoves(old, []string{"w1", "w2", "w4", "w5"}, 12)) // w3 leaves, two join
	require.Zero(t, MinMoves(old, []string{"w1", "w2", "w3"}, 12))
}
