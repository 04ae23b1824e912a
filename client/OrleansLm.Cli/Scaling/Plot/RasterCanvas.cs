using OrleansLm.Model.IO;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>
/// Paints the figure into RGB pixels, anti-aliased: each shape covers a fraction of a pixel (the area for rectangles
/// and font dots, one pixel's width across the edge of lines and circles), and blends its colour in by that fraction
/// times its opacity. Pixel (x, y) spans [x, x+1) × [y, y+1), so a 1-pixel line along y = 10.5 fills one row exactly.
/// </summary>
public sealed class RasterCanvas : ICanvas
{
    // Linear RGB would blend edges more truly; sRGB values as they are is what most plotting libraries do, and the edges read fine.
    private readonly float[] pixels;

    public RasterCanvas(int width, int height, Colour background)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        pixels = new float[width * height * 3];
        Rectangle(new Point(0, 0), width, height, background with { Opacity = 1 }, null, "background");
    }

    public int Width { get; }

    public int Height { get; }

    public void Rectangle(Point corner, double width, double height, Colour? fill, Stroke? stroke, string role)
    {
        if (fill is { } colour) FillRectangle(corner.X, corner.Y, width, height, colour);
        if (stroke is null) return;
        Point[] corners = [corner, new(corner.X + width, corner.Y), new(corner.X + width, corner.Y + height), new(corner.X, corner.Y + height)];
        for (var i = 0; i < 4; i++) Line(corners[i], corners[(i + 1) % 4], stroke, role);
    }

    public void Line(Point from, Point to, Stroke stroke, string role)
    {
        var half = stroke.Width / 2;
        Paint(Math.Min(from.X, to.X) - half, Math.Min(from.Y, to.Y) - half, Math.Max(from.X, to.X) + half, Math.Max(from.Y, to.Y) + half,
            stroke.Colour, centre => half + 0.5 - DistanceToSegment(centre, from, to));
    }

    public void Circle(Point centre, double radius, Colour? fill, Stroke? stroke, string role)
    {
        var reach = radius + (stroke?.Width ?? 0) / 2;
        if (fill is { } colour)
            Paint(centre.X - radius, centre.Y - radius, centre.X + radius, centre.Y + radius, colour, p => radius + 0.5 - Distance(p, centre));
        if (stroke is not null)
            Paint(centre.X - reach, centre.Y - reach, centre.X + reach, centre.Y + reach, stroke.Colour,
                p => stroke.Width / 2 + 0.5 - Math.Abs(Distance(p, centre) - radius));
    }

    public void Text(Point anchor, Label text, TextStyle style, string role)
    {
        var width = BitmapFont.Width(text, style.Scale);
        var start = style.Anchor switch { TextAnchor.Middle => -width / 2, TextAnchor.End => -width, _ => 0 };
        // Whole pixels: font dots on pixel boundaries stay sharp.
        var origin = new Point(Math.Round(anchor.X), Math.Round(anchor.Y));
        var along = Math.Round(start);
        var scale = style.Scale;
        foreach (var span in text.Spans)
        {
            var face = span.Superscript ? BitmapFont.Superscript : BitmapFont.Regular;
            var baseline = span.Superscript ? -BitmapFont.SuperscriptRise * scale : 0;
            foreach (var character in span.Text)
            {
                var glyph = face.Glyph(character);
                for (var row = 0; row < face.Height; row++)
                for (var column = 0; column < face.Width; column++)
                {
                    if (!glyph[row, column]) continue;
                    // (u, v): along the text and down from its baseline, before the text is turned.
                    var u = along + column * scale;
                    var v = baseline + (row - face.Ascent) * scale;
                    if (style.Vertical) FillRectangle(origin.X + v, origin.Y - u - scale, scale, scale, style.Colour);
                    else FillRectangle(origin.X + u, origin.Y + v, scale, scale, style.Colour);
                }
                along += face.Advance * scale;
            }
        }
    }

    public byte[] ToPng() => PngEncoder.Encode(Width, Height, [.. pixels.Select(value => (byte)Math.Round(Math.Clamp(value, 0, 1) * 255))]);

    /// <summary>Writes the PNG to <paramref name="path"/> atomically.</summary>
    public void Save(string path)
    {
        var png = ToPng();
        AtomicFile.Write(path, file => file.Write(png));
    }

    private void FillRectangle(double x, double y, double width, double height, Colour colour)
    {
        for (var row = (int)Math.Max(0, Math.Floor(y)); row < Math.Min(Height, Math.Ceiling(y + height)); row++)
        {
            var coverY = Overlap(row, y, y + height);
            for (var column = (int)Math.Max(0, Math.Floor(x)); column < Math.Min(Width, Math.Ceiling(x + width)); column++)
                Blend(column, row, colour, coverY * Overlap(column, x, x + width));
        }
    }

    /// <summary>Blends <paramref name="colour"/> into the pixels of a bounding box by the coverage <paramref name="cover"/> gives each pixel's centre.</summary>
    private void Paint(double left, double top, double right, double bottom, Colour colour, Func<Point, double> cover)
    {
        for (var row = (int)Math.Max(0, Math.Floor(top - 1)); row < Math.Min(Height, Math.Ceiling(bottom + 1)); row++)
        for (var column = (int)Math.Max(0, Math.Floor(left - 1)); column < Math.Min(Width, Math.Ceiling(right + 1)); column++)
            Blend(column, row, colour, Math.Clamp(cover(new Point(column + 0.5, row + 0.5)), 0, 1));
    }

    private void Blend(int column, int row, Colour colour, double coverage)
    {
        var alpha = (float)(coverage * colour.Opacity);
        if (alpha <= 0) return;
        var at = (row * Width + column) * 3;
        pixels[at] += alpha * (colour.R / 255f - pixels[at]);
        pixels[at + 1] += alpha * (colour.G / 255f - pixels[at + 1]);
        pixels[at + 2] += alpha * (colour.B / 255f - pixels[at + 2]);
    }

    /// <summary>How much of the pixel [index, index+1) lies within [from, to].</summary>
    private static double Overlap(int index, double from, double to) => Math.Max(0, Math.Min(index + 1, to) - Math.Max(index, from));

    private static double Distance(Point a, Point b) => Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y));

    private static double DistanceToSegment(Point p, Point a, Point b)
    {
        var (dx, dy) = (b.X - a.X, b.Y - a.Y);
        var lengthSquared = dx * dx + dy * dy;
        var t = lengthSquared == 0 ? 0 : Math.Clamp(((p.X - a.X) * dx + (p.Y - a.Y) * dy) / lengthSquared, 0, 1);
        return Distance(p, new Point(a.X + t * dx, a.Y + t * dy));
    }
}
