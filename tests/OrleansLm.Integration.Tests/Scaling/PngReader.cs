using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace OrleansLm.Integration.Tests.Scaling;

/// <summary>
/// A minimal PNG decoder written for the tests, apart from the encoder: it checks the signature and every chunk's CRC
/// (computed bit by bit, not from a table), reads 8-bit RGB without interlacing, and undoes all five row filters.
/// </summary>
internal sealed class PngReader
{
    private readonly byte[] rgb;

    private PngReader(int width, int height, byte[] rgb) => (Width, Height, this.rgb) = (width, height, rgb);

    public int Width { get; }

    public int Height { get; }

    public List<string> Chunks { get; } = [];

    public (byte R, byte G, byte B) this[int x, int y] => (rgb[(y * Width + x) * 3], rgb[(y * Width + x) * 3 + 1], rgb[(y * Width + x) * 3 + 2]);

    public static PngReader Read(byte[] png)
    {
        png.AsSpan(0, 8).ToArray().Should().Equal([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "the PNG signature");
        var (width, height) = (0, 0);
        var compressed = new MemoryStream();
        var chunks = new List<string>();
        for (var at = 8; at < png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            crc.Should().Be(BitwiseCrc32(png.AsSpan(at + 4, 4 + length)), $"the CRC of chunk {type}");
            chunks.Add(type);
            switch (type)
            {
                case "IHDR":
                    width = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
                    height = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    data[8..].ToArray().Should().Equal([8, 2, 0, 0, 0], "8-bit RGB, deflate, adaptive filtering, no interlace");
                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
            }
            at += 12 + length;
        }
        chunks.First().Should().Be("IHDR");
        chunks.Last().Should().Be("IEND");

        compressed.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionMode.Decompress)) zlib.CopyTo(inflated);
        var filtered = inflated.ToArray();
        var stride = width * 3;
        filtered.Length.Should().Be(height * (stride + 1), "one filter byte and the pixels per row");
        var rgb = new byte[height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = filtered[y * (stride + 1)];
            for (var i = 0; i < stride; i++)
            {
                int left = i >= 3 ? rgb[y * stride + i - 3] : 0;
                int up = y > 0 ? rgb[(y - 1) * stride + i] : 0;
                int upLeft = i >= 3 && y > 0 ? rgb[(y - 1) * stride + i - 3] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"row {y}: unknown filter type {filter}"),
                };
                rgb[y * stride + i] = (byte)(filtered[y * (stride + 1) + 1 + i] + predictor);
            }
        }
        var reader = new PngReader(width, height, rgb);
        reader.Chunks.AddRange(chunks);
        return reader;
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

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var (pa, pb, pc) = (Math.Abs(p - a), Math.Abs(p - b), Math.Abs(p - c));
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
