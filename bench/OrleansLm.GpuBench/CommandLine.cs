using System.Globalization;
using OrleansLm.Model.Torch;

namespace OrleansLm.GpuBench;

/// <summary>A bad command line; the message names the option.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A command's "--name value" options and "--name" switches, each given at most once; every error names the option.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> values;
    private readonly HashSet<string> switches;

    private CommandLine(Dictionary<string, string> values, HashSet<string> switches)
    {
        this.values = values;
        this.switches = switches;
    }

    /// <summary>Reads <paramref name="args"/>, allowing only <paramref name="options"/> (which take a value) and <paramref name="switchNames"/>.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> options, IReadOnlyCollection<string> switchNames)
    {
        var values = new Dictionary<string, string>();
        var switches = new HashSet<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (values.ContainsKey(name) || switches.Contains(name)) throw new UsageException($"{name} is given twice");
            if (switchNames.Contains(name)) switches.Add(name);
            else if (!options.Contains(name)) throw new UsageException($"unknown option '{name}'");
            else if (i + 1 >= args.Count) throw new UsageException($"{name} needs a value");
            else values[name] = args[++i];
        }
        return new CommandLine(values, switches);
    }

    public bool Switch(string name) => switches.Contains(name);

    public string? String(string name) => values.GetValueOrDefault(name);

    /// <summary>The integer value of <paramref name="name"/>, at least <paramref name="minimum"/>.</summary>
    public int Int(string name, int fallback, int minimum = 1)
    {
        if (!values.TryGetValue(name, out var text)) return fallback;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            throw new UsageException($"{name} must be an integer, not '{text}'");
        return value >= minimum ? value : throw new UsageException($"{name} must be at least {minimum}, not {value}");
    }

    /// <summary>The positive finite value of <paramref name="name"/>, or null when it is not given.</summary>
    public double? PositiveDouble(string name)
    {
        if (!values.TryGetValue(name, out var text)) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value <= 0)
            throw new UsageException($"{name} must be a positive number, not '{text}'");
        return value;
    }

    /// <summary>The value of <paramref name="name"/>, which must be one of <paramref name="choices"/>.</summary>
    public string Choice(string name, params string[] choices)
    {
        if (!values.TryGetValue(name, out var text)) return choices[0];
        return choices.Contains(text) ? text : throw new UsageException($"{name} must be one of {string.Join(", ", choices)}, not '{text}'");
    }

    /// <summary>
    /// The device <paramref name="name"/> names (default cpu), which this libtorch must have: a CUDA device needs the shim
    /// built against a CUDA libtorch first on the library path, and that many GPUs.
    /// </summary>
    public Device Device(string name)
    {
        var text = values.GetValueOrDefault(name, "cpu");
        Device device;
        try
        {
            device = Model.Torch.Device.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"{name}: {e.Message}");
        }
        if (device.Type == DeviceType.Cuda && Math.Max(device.Index, 0) >= LibTorch.CudaDeviceCount)
            throw new UsageException(LibTorch.CudaDeviceCount == 0
                ? $"{name} {text}: this libolmtorch.so (libtorch {LibTorch.Version}) sees no CUDA device; put the shim built against a CUDA libtorch first on LD_LIBRARY_PATH"
                : $"{name} {text}: there are only {LibTorch.CudaDeviceCount} CUDA devices");
        return device;
    }
}
