// Package filestore keeps small JSON documents on local disk so that a crash at any point
// leaves either the old or the new version readable: each write goes to a temporary file
// that is fsynced, the previous version is kept as <name>.bak, the temporary file is
// renamed over <name>, and the directory is fsynced. Reading falls back to the .bak copy
// when the main file is missing or does not parse (a torn write of a file system that does
// not order rename after data), and says so to the caller's logger; a read either yields a
// whole decoded version or changes nothing, and "nothing stored" (os.ErrNotExist) is only
// ever reported when neither copy exists.
//
// The directory of such files is one process's at a time: its user locks it with
// internal/dirlock.LockDir.
package filestore
