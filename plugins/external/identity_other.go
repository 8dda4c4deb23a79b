//go:build !unix

package external

import "os"

// fileIdentity has no inode to go by here: size and modification time are all.
func fileIdentity(st os.FileInfo) identity {
	return identity{size: st.Size(), mtime: st.ModTime().UnixNano()}
}
