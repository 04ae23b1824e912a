using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using OrleansLm.Cli.Scaling.Plot;
using Spectre.Console;

namespace OrleansLm.Cli.Scaling;

/// <summary>
/// <c>olm curve</c>: fits L(X) = (X_c / X)^α to a sweep's completed points for compute, parameters and tokens, prints the
/// fits and draws each as PREFIX-QUANTITY.svg and .png.
/// </summary>
public static class CurveCommand
{
    public static Command Create()
    {
        var sweep = new Option<FileInfo>("--sweep") { Description = "the sweep.json `olm sweep` wrote", Required = true };
        var quantities = new Option<string[]>("--x")
        {
            Description = "what to fit the loss against [default: all three]", AllowMultipleArgumentsPerToken = true,
        };
        quantities.AcceptOnlyFromAmong([.. ScalingQuantity.All.Select(q => q.Name)]);
        var prefix = new Option<string?>("--out") { Description = "figures go to PREFIX-compute.svg/.png etc. [default: curve, beside sweep.json]" };
        var json = new Option<bool>("--json") { Description = "one JSON object per fit (or skipped quantity) instead of a table" };
        var command = new Command("curve", "Fit power laws L(C), L(N), L(D) to a sweep's runs and plot them on log-log axes (SVG and PNG)")
        {
            sweep, quantities, prefix, json,
        };
        command.SetAction(parse => Run(parse.GetValue(sweep)!, parse.GetValue(quantities), parse.GetValue(prefix), parse.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo sweepFile, string[]? names, string? prefix, bool json)
    {
        SweepFile? sweep;
        try
        {
            sweep = SweepFile.Load(sweepFile.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return Cli.Fail($"--sweep: {e.Message}", json);
        }
        if (sweep is null) return Cli.Fail($"--sweep: {sweepFile.FullName} does not exist", json);
        prefix = Path.GetFullPath(prefix ?? Path.Combine(sweepFile.DirectoryName!, "curve"));
        var selected = names is { Length: > 0 } ? ScalingQuantity.All.Where(q => names.Contains(q.Name)).ToList() : ScalingQuantity.All;

        // Only runs that completed with every quantity measured take part: a failed run's loss says nothing about its size.
        var usable = sweep.Points.Where(p => p.IsCompleted && p.FinalValidationLoss is > 0 && p.Parameters > 0 && p.Tokens > 0 && p.Compute > 0).ToList();
        var table = new Table().AddColumns("L(X)", "α", "X_c", "R²", "points", "fitted to");
        var skipped = new List<string>();
        foreach (var quantity in selected)
        {
            var fitPoints = quantity.FitPoints(usable);
            var reason = usable.Select(quantity.Value).Distinct().Count() < 2 ? $"{quantity.Name} does not vary across the {usable.Count} completed runs"
                : fitPoints.Select(quantity.Value).Distinct().Count() < 2 ? $"fewer than 2 distinct {quantity.Name} among {quantity.Subset}"
                : null;
            if (reason is not null)
            {
                if (json) JsonLines.Write(new JsonObject { ["x"] = quantity.Name, ["skipped"] = reason });
                else skipped.Add($"L({quantity.Symbol}) skipped: {reason}");
                continue;
            }

            var fit = PowerLawFit.Fit([.. fitPoints.Select(p => (quantity.Value(p), p.FinalValidationLoss!.Value))]);
            var figure = new CurveFigure($"{sweep.Name}: validation loss vs {quantity.Name}", quantity,
                [.. usable.Select(p => new CurvePoint(quantity.Value(p), p.FinalValidationLoss!.Value, fitPoints.Contains(p)))], fit);
            var (svg, png) = ($"{prefix}-{quantity.Name}.svg", $"{prefix}-{quantity.Name}.png");
            try
            {
                Render(figure, svg, png);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Cli.Fail($"--out: cannot write {svg} or {png}: {e.Message}", json);
            }
            if (json)
            {
                JsonLines.Write(new JsonObject
                {
                    ["x"] = quantity.Name, ["alpha"] = fit.Alpha, ["scale"] = double.IsFinite(fit.Scale) ? fit.Scale : null, ["r_squared"] = fit.RSquared,
                    ["points"] = fit.Points, ["fitted_to"] = quantity.Subset, ["svg"] = svg, ["png"] = png,
                });
            }
            else
            {
                table.AddRow($"L({quantity.Symbol})", fit.Alpha.ToString("0.0000", CultureInfo.InvariantCulture), SweepText.Scientific(fit.Scale),
                    fit.RSquared.ToString("0.0000", CultureInfo.InvariantCulture), fit.Points.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(quantity.Subset));
            }
        }
        if (!json)
        {
            AnsiConsole.MarkupLineInterpolated($"[bold]{sweep.Name}[/]: L(X) = (X_c / X)^α fitted by least squares in log-log space, over {usable.Count} completed runs");
            if (table.Rows.Count > 0)
            {
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"figures: {prefix}-QUANTITY.svg and .png");
            }
            foreach (var line in skipped) AnsiConsole.MarkupLineInterpolated($"[yellow]{line}[/]");
        }
        return ExitCodes.Ok;
    }

    private static void Render(CurveFigure figure, string svgPath, string pngPath)
    {
        var svg = new SvgCanvas(CurvePlot.Width, CurvePlot.Height, CurvePlot.Background);
        CurvePlot.Draw(svg, figure);
        svg.Save(svgPath);
        var png = new RasterCanvas(CurvePlot.Width, CurvePlot.Height, CurvePlot.Background);
        CurvePlot.Draw(png, figure);
        png.Save(pngPath);
    }
}
