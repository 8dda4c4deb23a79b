package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCacheFoldMatchesItsOffsets: the cache is written while the store logs fold records; the
// fold it holds must be that of the records below the offsets it holds, never ahead of them.
// Ahead, the records between are folded again at the next start, and a replayed config record
// can fold differently the second time (a create that lost to a connector deleted since
// succeeds), so that worker alone would have a connector. Checked through the config fold's
// request ids: none may be at or past the cached next offset.
func TestCacheFoldMatchesItsOffsets(t *testing.T) {
	d := storeLogsHarness(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				_, err := d.writeConfigAt(ctx, configRecord{Type: recLogLevel, Name: fmt.Sprint("l", w, i%7), Level: "INFO"})
				// A writer the scheduler leaves waiting while over 1,024 records are folded
				// learns its result is no longer kept: not what this test is about.
				if err != nil && !errors.Is(err, errResultUnknown) {
					t.Error(err)
					return
				}
			}
		}()
	}
	writing := waitCh(&wg)
	saves := 0
	for done := false; !done; saves++ {
		select {
		case <-writing:
			done = true
		default:
		}
		d.saveCache()
		b, err := os.ReadFile(d.cachePath())
		require.NoError(t, err)
		var c clusterCache
		require.NoError(t, json.Unmarshal(b, &c))
		for req, off := range c.Config.Reqs {
			require.Less(t, off, c.ConfigNext, "save %d: the fold holds %s at offset %d, the cache says it covers below %d",
				saves, req, off, c.ConfigNext)
		}
	}
	t.Logf("%d saves", saves)
}

// waitCh is closed once wg is done.
func waitCh(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// TestCacheReadsEachFoldUnderItsLog: saveCache reads a topic's fold while it holds the topic's
// log lock, so the log cannot fold a record between the offsets read and the fold read (the
// window the test above can only meet by chance). Held up on the fold's lock, saveCache keeps
// the config log's lock.
func TestCacheReadsEachFoldUnderItsLog(t *testing.T) {
	d := newTestDistributed(t, 5*time.Second)
	t.Cleanup(d.engine.crew.close)
	d.configLog = newStoreLog("config", &memQueue{}, quiet())
	d.statusLog = newStoreLog("status", &memQueue{}, quiet())
	d.positionLog = newStoreLog("position", &memQueue{}, quiet())
	d.mu.Lock()
	saved := make(chan struct{})
	go func() { d.saveCache(); close(saved) }()
	time.Sleep(100 * time.Millisecond) // saveCache is waiting for d.mu by now
	free := d.configLog.mu.TryLock()
	if free {
		d.configLog.mu.Unlock()
	}
	d.mu.Unlock()
	<-saved
	require.False(t, free, "the config log could fold a record while the cache waited to read its fold")
}
