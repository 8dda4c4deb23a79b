package remoting

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/require"
)

// lz4Frame compresses b into one LZ4 frame laid out as lz4-java's LZ4FrameOutputStream
// writes it for RocketMQ's Lz4Compressor: version 1 with independent blocks and no
// checksums (FLG 0x60), 4 MB blocks (BD 0x70), the header checksum, the blocks, an end mark.
func lz4Frame(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := lz4.NewWriter(&out)
	require.NoError(t, w.Apply(lz4.BlockSizeOption(lz4.Block4Mb), lz4.ChecksumOption(false)))
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	frame := out.Bytes()
	require.Equal(t, []byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x70}, frame[:6], "the frame descriptor lz4-java writes")
	return frame
}

// lz4StoredFrame is the frame lz4-java writes for a body that does not compress (a short
// one): the block stored as is, marked by the length's high bit.
func lz4StoredFrame(t *testing.T, b []byte) []byte {
	t.Helper()
	frame := append([]byte(nil), lz4Frame(t, nil)[:7]...) // magic, FLG, BD, header checksum
	frame = binary.LittleEndian.AppendUint32(frame, uint32(len(b))|0x80000000)
	frame = append(frame, b...)
	return binary.LittleEndian.AppendUint32(frame, 0) // end mark
}

// zstdFrame compresses b as zstd-jni's ZstdOutputStream does for RocketMQ's ZstdCompressor:
// a stream, so the frame does not declare its content size.
func zstdFrame(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := zstd.NewWriter(&out)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

// TestDecodeMessagesInflatesEveryCompression: RocketMQ 5.x Java producers compress bodies
// with zlib, LZ4 or zstd, named by the sysflag's bits 8-10 (MessageSysFlag
// COMPRESSION_TYPE_COMPARATOR: 1 LZ4, 2 ZSTD, 3 ZLIB; 0 from older clients, zlib).
func TestDecodeMessagesInflatesEveryCompression(t *testing.T) {
	long := bytes.Repeat([]byte("a body long enough to compress well; "), 200)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, 6)
	_, _ = zw.Write(long)
	_ = zw.Close()
	var body []byte
	for i, c := range []struct {
		flag   int32
		stored []byte
	}{
		{sysFlagCompress, z.Bytes()},
		{sysFlagCompress | compressZlib, z.Bytes()},
		{sysFlagCompress | compressLZ4, lz4Frame(t, long)},
		{sysFlagCompress | compressLZ4, lz4StoredFrame(t, long[:20])},
		{sysFlagCompress | compressZstd, zstdFrame(t, long)},
		{compressZstd, long}, // a type without the compressed flag: not compressed
	} {
		body = append(body, storedMessage(magicV2, 1, int64(10+i), c.flag, c.stored, "T", "p\x01v")...)
	}
	msgs, err := DecodeMessages(body)
	require.NoError(t, err)
	require.Len(t, msgs, 6)
	for i, m := range msgs {
		want := long
		if i == 3 {
			want = long[:20]
		}
		require.Equal(t, string(want), string(m.Body), "message %d", i)
		require.Equal(t, int64(10+i), m.QueueOffset)
	}
}

// TestDecodeMessagesStopsAtAnUndecodableMessage: a message that cannot be decoded does not
// cost the messages before it; it is returned as a DecodeError naming its offset and
// carrying what it stored, so a caller can skip it or report it instead of pulling the same
// batch forever.
func TestDecodeMessagesStopsAtAnUndecodableMessage(t *testing.T) {
	good := func(off int64) []byte {
		return storedMessage(magicV1, 0, off, 0, []byte("ok-"+strconv.FormatInt(off, 10)), "T", "")
	}
	for name, c := range map[string]struct {
		bad        []byte
		wantOffset int64
		stored     string
		props      string
	}{
		"unknown compression": {storedMessage(magicV1, 0, 42, sysFlagCompress|5<<8, []byte("?"), "T", "KEYS\x01k\x02"), 42, "?", "KEYS\x01k\x02"},
		"corrupt lz4":         {storedMessage(magicV1, 0, 42, sysFlagCompress|compressLZ4, []byte("not lz4"), "T", ""), 42, "not lz4", ""},
		"corrupt zstd":        {storedMessage(magicV1, 0, 42, sysFlagCompress|compressZstd, []byte("not zstd"), "T", ""), 42, "not zstd", ""},
		"broken framing":      {[]byte{0, 0, 0, 9, 1, 2, 3, 4, 5}, 42, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			body := append(append(good(40), good(41)...), c.bad...)
			body = append(body, good(43)...)
			msgs, err := DecodeMessages(body)
			require.Len(t, msgs, 2)
			require.Equal(t, "ok-41", string(msgs[1].Body))
			require.ErrorIs(t, err, ErrBadMessage)
			var de *DecodeError
			require.True(t, errors.As(err, &de), "%v", err)
			require.Equal(t, c.wantOffset, de.Offset)
			require.Equal(t, c.stored, string(de.Stored))
			require.Equal(t, c.props, string(de.Properties))
		})
	}
	_, err := DecodeMessages([]byte{0, 0, 0, 9, 1, 2, 3, 4, 5})
	var de *DecodeError
	require.True(t, errors.As(err, &de))
	require.Zero(t, de.Offset, "the first message: the offset the body starts at")
}

// TestPullReturnsTheMessagesBeforeAnUndecodableOne: a pull answered with a message it cannot
// decode returns the messages before it, Next at its offset, and the DecodeError.
func TestPullReturnsTheMessagesBeforeAnUndecodableOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() { // ends when the listener closes
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := Decode(c)
		if err != nil {
			return
		}
		body := storedMessage(magicV1, 0, 7, 0, []byte("fine"), "T", "")
		body = append(body, storedMessage(magicV1, 0, 8, sysFlagCompress|6<<8, []byte("??"), "T", "")...)
		frame, _ := (&Command{Opaque: req.Opaque, Flag: 1, Body: body, ExtFields: map[string]string{
			"nextBeginOffset": "9", "minOffset": "0", "maxOffset": "9"}}).Encode()
		_, _ = c.Write(frame)
		_, _ = Decode(c) // until the client closes
	}()
	pool := NewPool()
	defer pool.Close()
	res, err := Client{Pool: pool}.Pull(context.Background(), ln.Addr().String(), PullRequest{Group: "g", Topic: "T", Offset: 7, Max: 32})
	var de *DecodeError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, int64(8), de.Offset)
	require.True(t, strings.Contains(err.Error(), "compression type 6"), err.Error())
	require.NotNil(t, res)
	require.Len(t, res.Messages, 1)
	require.Equal(t, "fine", string(res.Messages[0].Body))
	require.Equal(t, int64(8), res.Next)
	res.Release()
}
