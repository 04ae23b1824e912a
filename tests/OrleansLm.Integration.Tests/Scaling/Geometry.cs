using OrleansLm.Cli.Scaling.Plot;

namespace OrleansLm.Integration.Tests.Scaling;

/// <summary>Distances in pixels, for checking where shapes landed.</summary>
internal static class Geometry
{
    public static double Distance(Point a, Point b) => Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y));

    /// <summary>From <paramref name="p"/> to the nearest point of the segment from <paramref name="a"/> to <paramref name="b"/>.</summary>
    public static double Distance(Point p, Point a, Point b)
    {
        var (dx, dy) = (b.X - a.X, b.Y - a.Y);
        var t = Math.Clamp(((p.X - a.X) * dx + (p.Y - a.Y) * dy) / (dx * dx + dy * dy), 0, 1);
        return Distance(p, new Point(a.X + t * dx, a.Y + t * dy));
    }
}
