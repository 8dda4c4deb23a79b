package file

import "io"

// WrapWriterForTest makes the next Start write through wrap(file), so a test can inject write failures.
func (t *SinkTask) WrapWriterForTest(wrap func(io.Writer) io.Writer) { t.wrap = wrap }

// CrashForTest closes the file as a killed worker leaves it: nothing buffered is written and the side file
// keeps what it recorded. The task counts as stopped afterwards.
func (t *SinkTask) CrashForTest() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.f != nil {
		_ = t.f.Close()
		t.f, t.w = nil, nil
	}
}
