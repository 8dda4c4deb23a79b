package faults

import (
	"fmt"
	"os/exec"
	"strings"
)

// The test network: a bridge on the host holding hostAddr, and one namespace per worker
// slot, joined to the bridge by a veth pair, with address nsAddr(i). The broker and name
// server listen on hostAddr, so a worker reaches them over its veth and nftables rules in
// its namespace can cut it off.
const (
	bridge   = "rmqf0"
	hostAddr = "10.231.0.1"
	slots    = 5
)

func nsName(i int) string { return fmt.Sprintf("rmqf-w%d", i) }
func nsAddr(i int) string { return fmt.Sprintf("10.231.0.%d", 10+i) }

// sh runs a command and returns its combined output as the error's text when it fails.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupNetwork creates the bridge and the namespaces (removing any left by an earlier run).
func setupNetwork() error {
	teardownNetwork()
	steps := [][]string{
		{"ip", "link", "add", bridge, "type", "bridge"},
		{"ip", "addr", "add", hostAddr + "/24", "dev", bridge},
		{"ip", "link", "set", bridge, "up"},
	}
	for i := 1; i <= slots; i++ {
		ns, h, n := nsName(i), fmt.Sprintf("rmqfh%d", i), fmt.Sprintf("rmqfn%d", i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", h, "type", "veth", "peer", "name", n},
			[]string{"ip", "link", "set", h, "master", bridge},
			[]string{"ip", "link", "set", h, "up"},
			[]string{"ip", "link", "set", n, "netns", ns},
			[]string{"ip", "-n", ns, "addr", "add", nsAddr(i) + "/24", "dev", n},
			[]string{"ip", "-n", ns, "link", "set", n, "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

// teardownNetwork removes the namespaces and the bridge (the veth pairs go with them).
func teardownNetwork() {
	for i := 1; i <= slots; i++ {
		_ = sh("ip", "netns", "del", nsName(i))
	}
	_ = sh("ip", "link", "del", bridge)
}

// cut is the direction of a partition, as seen from the worker.
type cut int

const (
	cutBoth cut = iota // nothing passes between the worker and the broker or name server
	cutOut             // the worker's packets to them are dropped; theirs still arrive
	cutIn              // their packets to the worker are dropped; the worker's still arrive
)

func (c cut) String() string {
	return [...]string{"two-way", "worker→broker dropped", "broker→worker dropped"}[c]
}

// partition installs nftables drop rules in namespace slot i between it and the RocketMQ
// ports (the REST port stays reachable, so the test can still watch the worker).
func partition(i int, c cut, ports ...int) error {
	var ps []string
	for _, p := range ports {
		ps = append(ps, fmt.Sprint(p))
	}
	set := "{ " + strings.Join(ps, ", ") + " }"
	rules := "table inet rmqfaults {\n" +
		"  chain out { type filter hook output priority 0; policy accept;\n"
	if c == cutBoth || c == cutOut {
		rules += "    ip daddr " + hostAddr + " tcp dport " + set + " drop\n"
	}
	rules += "  }\n  chain in { type filter hook input priority 0; policy accept;\n"
	if c == cutBoth || c == cutIn {
		rules += "    ip saddr " + hostAddr + " tcp sport " + set + " drop\n"
	}
	rules += "  }\n}\n"
	cmd := exec.Command("ip", "netns", "exec", nsName(i), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", nsName(i), err, out)
	}
	return nil
}

// heal removes the drop rules of namespace slot i.
func heal(i int) error {
	return sh("ip", "netns", "exec", nsName(i), "nft", "delete", "table", "inet", "rmqfaults")
}
