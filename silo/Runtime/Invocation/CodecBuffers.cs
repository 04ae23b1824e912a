using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// A growing little-endian byte buffer. Blocks of primitives are copied in one go; growth allocates without
/// zeroing and to at least the size asked, so a 64 MB array costs one allocation and one copy.
/// </summary>
internal sealed class CodecWriter(int initialCapacity = 256)
{
    private byte[] buffer = GC.AllocateUninitializedArray<byte>(initialCapacity);
    private int length;

    public ReadOnlyMemory<byte> Written => buffer.AsMemory(0, length);

    public void Byte(byte value) => Take(1)[0] = value;

    public void Int16(short value) => BinaryPrimitives.WriteInt16LittleEndian(Take(2), value);

    public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

    public void String(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Int32(count);
        Encoding.UTF8.GetBytes(value, Take(count));
    }

    /// <summary>A string that may be null (length -1).</summary>
    public void NullableString(string? value)
    {
        if (value is null) Int32(-1);
        else String(value);
    }

    /// <summary>Element count, then the elements' raw bytes.</summary>
    public void Block<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        ThrowIfBigEndian();
        Int32(values.Length);
        Bytes(MemoryMarshal.AsBytes(values));
    }

    /// <summary>The bytes as they are, with no length.</summary>
    public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    internal static void ThrowIfBigEndian()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the grain call codec writes raw little-endian blocks");
    }

    private Span<byte> Take(int count)
    {
        if (buffer.Length - length < count)
        {
            var grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(Array.MaxLength, Math.Max(2L * buffer.Length, (long)length + count)));
            buffer.AsSpan(0, length).CopyTo(grown);
            buffer = grown;
        }
        var span = buffer.AsSpan(length, count);
        length += count;
        return span;
    }
}

/// <summary>Reads what <see cref="CodecWriter"/> wrote; running past the end is a <see cref="FormatException"/>, not an overrun.</summary>
internal ref struct CodecReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> rest = data;

    public readonly bool AtEnd => rest.IsEmpty;

    public byte Byte() => Take(1)[0];

    public short Int16() => BinaryPrimitives.ReadInt16LittleEndian(Take(2));

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public string String() => Encoding.UTF8.GetString(Take(Length()));

    public string? NullableString()
    {
        var count = Int32();
        if (count == -1) return null;
        if (count < 0) throw new FormatException($"grain call payload has a negative length ({count})");
        return Encoding.UTF8.GetString(Take(count));
    }

    public ReadOnlySpan<byte> Bytes() => Take(Length());

    public T[] Block<T>() where T : unmanaged
    {
        CodecWriter.ThrowIfBigEndian();
        var count = Length();
        var size = (long)count * Unsafe.SizeOf<T>();
        if (size > rest.Length) throw Truncated(size);
        var values = GC.AllocateUninitializedArray<T>(count);
        Take((int)size).CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    private int Length()
    {
        var count = Int32();
        return count >= 0 ? count : throw new FormatException($"grain call payload has a negative length ({count})");
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)rest.Length) throw Truncated(count);
        var span = rest[..count];
        rest = rest[count..];
        return span;
    }

    private readonly FormatException Truncated(long wanted) =>
        new($"grain call payload is truncated: {wanted} more bytes expected, {rest.Length} left");
}
