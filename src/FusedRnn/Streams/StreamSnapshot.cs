using System.Buffers.Binary;
using System.IO.Hashing;

namespace FusedRnn.Streams;

/// <summary>
/// The bytes of <see cref="RnnStream.Snapshot"/>, little-endian: the magic <c>FRNNSTRM</c>; the format version (u16,
/// 1); the precision (u8: 0 float32, 1 float64); a zero byte; the state's size in bytes (u32); the fingerprint of the
/// network or whole model (u64: a hash of its architecture and weights); the steps the stream has taken (u64); the
/// state as the stream keeps it, each network's slot in turn (h of every layer, then c, in the precision's type); and a
/// CRC-32 of everything before it (u32).
/// </summary>
internal static class StreamSnapshot
{
    public const ushort FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "FRNNSTRM"u8;

    private const int HeaderSize = 32;
    private const int ChecksumSize = 4;

    /// <summary>What a snapshot records besides the state.</summary>
    public readonly record struct Header(RnnPrecision Precision, int SlotBytes, ulong Fingerprint, long Steps);

    public static int SizeFor(int slotBytes) => HeaderSize + slotBytes + ChecksumSize;

    public static byte[] Write(in Header header, ReadOnlySpan<byte> state)
    {
        var bytes = new byte[SizeFor(state.Length)];
        Span<byte> span = bytes;
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], FormatVersion);
        span[10] = header.Precision == RnnPrecision.Float64 ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)state.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], header.Fingerprint);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], header.Steps);
        state.CopyTo(span[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[^ChecksumSize..], Crc32.HashToUInt32(span[..^ChecksumSize]));
        return bytes;
    }

    /// <summary>
    /// Checks <paramref name="snapshot"/> against what the restoring stream expects and returns its steps and (in
    /// <paramref name="state"/>) its state; throws <see cref="InvalidSnapshotException"/> naming the first thing that
    /// does not fit.
    /// </summary>
    public static long Read(ReadOnlySpan<byte> snapshot, in Header expected, string paramName, out ReadOnlySpan<byte> state)
    {
        if (snapshot.Length < HeaderSize + ChecksumSize || !snapshot.StartsWith(Magic))
            throw new InvalidSnapshotException($"{paramName} is not a FusedRnn stream snapshot (it does not start with 'FRNNSTRM' or is too short: {snapshot.Length} bytes)", paramName);
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(snapshot[8..]);
        if (version != FormatVersion)
            throw new InvalidSnapshotException($"{paramName} is a stream snapshot of format version {version}; this library reads version {FormatVersion}", paramName);
        uint slotBytes = BinaryPrimitives.ReadUInt32LittleEndian(snapshot[12..]);
        if (slotBytes > int.MaxValue - HeaderSize - ChecksumSize || snapshot.Length != SizeFor((int)slotBytes))
            throw new InvalidSnapshotException($"{paramName} has {snapshot.Length} bytes but its header describes a {slotBytes}-byte state, {(long)slotBytes + HeaderSize + ChecksumSize} bytes in all: it is truncated or padded", paramName);
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(snapshot[^ChecksumSize..]);
        if (checksum != Crc32.HashToUInt32(snapshot[..^ChecksumSize]))
            throw new InvalidSnapshotException($"{paramName} is corrupt: its CRC-32 does not match its contents", paramName);
        if (snapshot[10] > 1 || snapshot[11] != 0)
            throw new InvalidSnapshotException($"{paramName} has precision byte {snapshot[10]} and reserved byte {snapshot[11]}; a snapshot has 0 or 1 and 0", paramName);
        RnnPrecision precision = snapshot[10] == 1 ? RnnPrecision.Float64 : RnnPrecision.Float32;
        if (precision != expected.Precision)
            throw new InvalidSnapshotException($"{paramName} is the state of a {precision} stream; this stream's network computes in {expected.Precision}", paramName);
        ulong fingerprint = BinaryPrimitives.ReadUInt64LittleEndian(snapshot[16..]);
        if (fingerprint != expected.Fingerprint || slotBytes != expected.SlotBytes)
            throw new InvalidSnapshotException($"{paramName} is the state of another network (fingerprint {fingerprint:x16}, {slotBytes} state bytes; this stream's: {expected.Fingerprint:x16}, {expected.SlotBytes})", paramName);
        long steps = BinaryPrimitives.ReadInt64LittleEndian(snapshot[24..]);
        if (steps < 0)
            throw new InvalidSnapshotException($"{paramName} records {steps} steps; a stream has taken 0 or more", paramName);
        state = snapshot.Slice(HeaderSize, (int)slotBytes);
        return steps;
    }
}
