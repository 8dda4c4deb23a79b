//go:build unix

package file

import (
	"os"
	"strconv"
	"syscall"
)

// fileID names the file fi describes by its device and inode, "<dev>:<ino>": two FileInfos have the same
// ID exactly when os.SameFile reports them the same file. It is "" when fi carries no inode.
func fileID(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st == nil {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10)
}
