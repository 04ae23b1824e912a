using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// A PNG file decoded (PNG specification, ISO/IEC 15948) by the tests, apart from any encoder: 8-bit RGB or RGBA, not
/// interlaced. Decoding checks the file as it goes: signature, chunk layout and every chunk's CRC (computed bit by bit,
/// not from a table), IHDR first and IEND last, compression and filter methods, the zlib data's exact length and all
/// five scanline filters. Screenshots are RGBA; the plots' encoder writes RGB.
/// </summary>
public sealed class PngImage
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly byte[] pixels;

    private PngImage(int width, int height, int channels, byte[] pixels, IReadOnlyList<string> chunks)
    {
        Width = width;
        Height = height;
        Channels = channels;
        this.pixels = pixels;
        Chunks = chunks;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>3 for RGB, 4 for RGBA.</summary>
    public int Channels { get; }

    /// <summary>The chunk types in file order.</summary>
    public IReadOnlyList<string> Chunks { get; }

    /// <summary>The colour of pixel (<paramref name="x"/>, <paramref name="y"/>), from the top left.</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            var at = (y * Width + x) * Channels;
            return (pixels[at], pixels[at + 1], pixels[at + 2]);
        }
    }

    public static PngImage Decode(byte[] file)
    {
        if (file.Length < Signature.Length || !file.AsSpan(0, Signature.Length).SequenceEqual(Signature))
            throw new InvalidDataException("not a PNG file: no PNG signature");
        int width = 0, height = 0, channels = 0;
        List<string> chunks = [];
        using var compressed = new MemoryStream();
        var at = Signature.Length;
        while (chunks.LastOrDefault() != "IEND")
        {
            if (at + 12 > file.Length) throw new InvalidDataException($"truncated PNG: a chunk header at byte {at}");
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            var type = Encoding.ASCII.GetString(file, at + 4, 4);
            if (length < 0 || at + 12 + length > file.Length) throw new InvalidDataException($"truncated PNG: chunk {type} of {length} bytes");
            var data = file.AsSpan(at + 8, length);
            if (BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at + 8 + length)) != BitwiseCrc32(file.AsSpan(at + 4, 4 + length)))
                throw new InvalidDataException($"chunk {type} at byte {at}: its CRC does not match");
            if (at == Signature.Length && type != "IHDR") throw new InvalidDataException($"the first chunk is {type}, not IHDR");
            chunks.Add(type);
            switch (type)
            {
                case "IHDR":
                    (width, height) = (BinaryPrimitives.ReadInt32BigEndian(data), BinaryPrimitives.ReadInt32BigEndian(data[4..]));
                    var (depth, colour, compression, filtering, interlace) = (data[8], data[9], data[10], data[11], data[12]);
                    channels = colour switch
                    {
                        2 => 3,
                        6 => 4,
                        _ => throw new InvalidDataException($"colour type {colour}: only RGB (2) and RGBA (6) are decoded here"),
                    };
                    if (depth != 8 || compression != 0 || filtering != 0 || interlace != 0)
                        throw new InvalidDataException(
                            $"bit depth {depth}, compression {compression}, filter method {filtering}, interlace {interlace}: only 8-bit, deflate, adaptive filtering, not interlaced");
                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
            }
            at += 12 + length;
        }
        if (at != file.Length) throw new InvalidDataException($"{file.Length - at} bytes after IEND");
        if (width <= 0 || height <= 0) throw new InvalidDataException($"a PNG of {width}×{height} pixels");

        compressed.Position = 0;
        using var inflate = new ZLibStream(compressed, CompressionMode.Decompress);
        var stride = width * channels;
        var filtered = new byte[(stride + 1) * height];
        inflate.ReadExactly(filtered);
        if (inflate.ReadByte() >= 0) throw new InvalidDataException("the image data is longer than one filter byte and the pixels per row");
        return new PngImage(width, height, channels, Unfilter(filtered, stride, height, channels), chunks);
    }

    /// <summary>CRC-32 (ISO 3309), one bit at a time.</summary>
    public static uint BitwiseCrc32(ReadOnlySpan<byte> bytes)
    {
        var crc = uint.MaxValue;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    /// <summary>Reverses each scanline's filter (PNG specification, "Filtering"): None, Sub, Up, Average, Paeth.</summary>
    private static byte[] Unfilter(byte[] filtered, int stride, int height, int bytesPerPixel)
    {
        var pixels = new byte[stride * height];
        for (var row = 0; row < height; row++)
        {
            var filter = filtered[row * (stride + 1)];
            var source = filtered.AsSpan(row * (stride + 1) + 1, stride);
            var line = pixels.AsSpan(row * stride, stride);
            Span<byte> above = row > 0 ? pixels.AsSpan((row - 1) * stride, stride) : new byte[stride];
            for (var i = 0; i < stride; i++)
            {
                int left = i >= bytesPerPixel ? line[i - bytesPerPixel] : 0;
                int up = above[i];
                int upLeft = i >= bytesPerPixel ? above[i - bytesPerPixel] : 0;
                var predicted = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"scanline {row} has filter type {filter}"),
                };
                line[i] = (byte)(source[i] + predicted);
            }
        }
        return pixels;
    }

    private static int Paeth(int left, int up, int upLeft)
    {
        var estimate = left + up - upLeft;
        var (toLeft, toUp, toUpLeft) = (Math.Abs(estimate - left), Math.Abs(estimate - up), Math.Abs(estimate - upLeft));
        return toLeft <= toUp && toLeft <= toUpLeft ? left : toUp <= toUpLeft ? up : upLeft;
    }
}
