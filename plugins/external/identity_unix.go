//go:build unix

package external

import (
	"os"
	"syscall"
)

func fileIdentity(st os.FileInfo) identity {
	id := identity{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		// The field types differ from one system to another (Dev is an int32 on macOS).
		id.dev, id.ino = uint64(s.Dev), uint64(s.Ino)
	}
	return id
}
