package file

import "io"

// WrapWriterForTest makes the next Start write through wrap(file), so a test can inject write failures.
func (t *SinkTask) WrapWriterForTest(wrap func(io.Writer) io.Writer) { t.wrap = wrap }
