using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// A PNG file decoded (PNG specification, ISO/IEC 15948) as far as screenshots need: 8-bit RGB or RGBA, not interlaced.
/// Decoding checks the file as it goes: signature, chunk layout, IHDR first, zlib data, filter types.
/// </summary>
public sealed class PngImage
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly byte[] pixels;
    private readonly int channels;

    private PngImage(int width, int height, int channels, byte[] pixels)
    {
        Width = width;
        Height = height;
        this.channels = channels;
        this.pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The colour of pixel (<paramref name="x"/>, <paramref name="y"/>), from the top left.</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            var at = (y * Width + x) * channels;
            return (pixels[at], pixels[at + 1], pixels[at + 2]);
        }
    }

    public static PngImage Decode(byte[] file)
    {
        if (file.Length < Signature.Length || !file.AsSpan(0, Signature.Length).SequenceEqual(Signature))
            throw new InvalidDataException("not a PNG file: no PNG signature");
        int width = 0, height = 0, channels = 0;
        using var compressed = new MemoryStream();
        var at = Signature.Length;
        var ended = false;
        while (!ended)
        {
            if (at + 12 > file.Length) throw new InvalidDataException($"truncated PNG: a chunk header at byte {at}");
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            var type = Encoding.ASCII.GetString(file, at + 4, 4);
            if (length < 0 || at + 12 + length > file.Length) throw new InvalidDataException($"truncated PNG: chunk {type} of {length} bytes");
            var data = file.AsSpan(at + 8, length);
            if (at == Signature.Length && type != "IHDR") throw new InvalidDataException($"the first chunk is {type}, not IHDR");
            switch (type)
            {
                case "IHDR":
                    (width, height) = (BinaryPrimitives.ReadInt32BigEndian(data), BinaryPrimitives.ReadInt32BigEndian(data[4..]));
                    var (depth, colour, interlace) = (data[8], data[9], data[12]);
                    channels = colour switch
                    {
                        2 => 3,
                        6 => 4,
                        _ => throw new InvalidDataException($"colour type {colour}: only RGB (2) and RGBA (6) are decoded here"),
                    };
                    if (depth != 8 || interlace != 0) throw new InvalidDataException($"bit depth {depth}, interlace {interlace}: only 8-bit, not interlaced");
                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
                case "IEND":
                    ended = true;
                    break;
            }
            at += 12 + length;
        }
        if (width <= 0 || height <= 0) throw new InvalidDataException($"a PNG of {width}×{height} pixels");

        compressed.Position = 0;
        using var inflate = new ZLibStream(compressed, CompressionMode.Decompress);
        var stride = width * channels;
        var filtered = new byte[(stride + 1) * height];
        inflate.ReadExactly(filtered);
        return new PngImage(width, height, channels, Unfilter(filtered, stride, height, channels));
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
