using System.Text;
using OrleansLm.Cli.Scaling.Plot;

using static OrleansLm.Integration.Tests.Scaling.Geometry;

namespace OrleansLm.Integration.Tests.Scaling;

public sealed class RasterCanvasTests
{
    private static readonly Colour Red = new(220, 20, 30);
    private static readonly Colour Blue = new(10, 40, 200);
    private static readonly (byte, byte, byte) White = (255, 255, 255);

    [Fact]
    public void Crc32IsTheStandardOne()
    {
        // The check value every CRC-32/ISO-HDLC implementation gives for "123456789".
        PngEncoder.Crc32(Encoding.ASCII.GetBytes("123456789")).Should().Be(0xCBF43926);
        PngImage.BitwiseCrc32(Encoding.ASCII.GetBytes("123456789")).Should().Be(0xCBF43926);
    }

    [Fact]
    public void ShapesLandWhereTheyWereDrawnOnAWhiteBackground()
    {
        var canvas = new RasterCanvas(64, 40, Colour.White);
        canvas.Circle(new Point(20.5, 20.5), 6, Red, null, "point");
        var (from, to) = (new Point(4, 36), new Point(60, 4));
        canvas.Line(from, to, new Stroke(Blue, 2), "fit");

        var png = PngImage.Decode(canvas.ToPng());
        png.Channels.Should().Be(3, "the encoder writes 8-bit RGB");

        (png.Width, png.Height).Should().Be((64, 40));
        png.Chunks.Should().Equal("IHDR", "IDAT", "IEND");
        png[20, 20].Should().Be((Red.R, Red.G, Red.B), "the circle's centre is fully covered");
        png[20, 16].Should().Be((Red.R, Red.G, Red.B), "so is a pixel 4.5 px above it");
        foreach (var (x, y) in new[] { (0, 0), (63, 0), (0, 39), (63, 39), (40, 35) })
            png[x, y].Should().Be(White, $"({x}, {y}) is background");
        png[20, 12].Should().Be(White, "a pixel 8 px above the circle's centre is outside it");

        // Every pixel the line coloured lies within its half-width (plus a pixel's reach) of the segment, and the
        // pixels whose centres lie on the segment are fully blue.
        var blue = new List<(int X, int Y)>();
        for (var y = 0; y < png.Height; y++)
        for (var x = 0; x < png.Width; x++)
            if (png[x, y] is var (r, _, b) && b > r + 40) blue.Add((x, y));
        blue.Should().OnlyContain(p => Distance(new Point(p.X + 0.5, p.Y + 0.5), from, to) <= 1 + 0.75);
        blue.Count.Should().BeGreaterThan((int)(Distance(from, to) * 2 * 0.8), "a line 2 px wide covers about twice its length in pixels");
        var centred = blue.Where(p => Distance(new Point(p.X + 0.5, p.Y + 0.5), from, to) < 0.4 && Distance(new Point(p.X + 0.5, p.Y + 0.5), new Point(20.5, 20.5)) > 8).ToList();
        centred.Should().NotBeEmpty();
        centred.Select(p => png[p.X, p.Y]).Should().AllBeEquivalentTo((Blue.R, Blue.G, Blue.B));
    }

    [Fact]
    public void EdgesBlendByCoverageAndOpacity()
    {
        var canvas = new RasterCanvas(10, 10, Colour.White);
        // Half of each pixel of column 4, all of column 5.
        canvas.Rectangle(new Point(4.5, 2), 1.5, 6, Colour.Black, null, "half");
        canvas.Rectangle(new Point(7, 2), 1, 6, new Colour(0, 0, 0, 0.25), null, "translucent");

        var png = PngImage.Decode(canvas.ToPng());
        png.Channels.Should().Be(3, "the encoder writes 8-bit RGB");

        png[4, 4].Should().Be(((byte)128, (byte)128, (byte)128), "half black over white");
        png[5, 4].Should().Be(((byte)0, (byte)0, (byte)0));
        png[6, 4].Should().Be(White);
        png[7, 4].Should().Be(((byte)191, (byte)191, (byte)191), "a quarter of black over white");
    }
}
