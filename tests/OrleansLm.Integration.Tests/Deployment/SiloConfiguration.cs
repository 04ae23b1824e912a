using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using OrleansLm.Silo;
using OrleansLm.Silo.Gateway;
using OrleansLm.Silo.Hosting;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The silo's configuration as deployment files set it: the keys its options classes bind (read off the classes, so a
/// renamed property breaks the deployment tests), the OLM_ environment variables that name them, and the options an
/// environment binds to with the silo's own validation.
/// </summary>
public static class SiloConfiguration
{
    public const string EnvironmentPrefix = "OLM_";

    /// <summary>ASP.NET Core's own key for the HTTP URLs (/healthz, /metrics, the live page).</summary>
    public const string UrlsKey = "Urls";

    private static readonly (string Section, Type Options)[] Sections =
        [(SiloOptions.Section, typeof(SiloOptions)), (ClusterOptions.Section, typeof(ClusterOptions)), (GatewayOptions.Section, typeof(GatewayOptions))];

    /// <summary>Every "Section:Key" the silo binds, plus <see cref="UrlsKey"/>; case as declared (configuration keys are case-insensitive).</summary>
    public static IReadOnlySet<string> Keys { get; } = new HashSet<string>(
        Sections.SelectMany(s => s.Options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite)
                .Select(p => $"{s.Section}:{p.Name}"))
            .Append(UrlsKey),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The configuration key an environment variable sets ("OLM_Cluster__Roles__0" → "Cluster:Roles", array indices
    /// dropped), or null for a variable without the prefix.
    /// </summary>
    public static string? KeyOf(string environmentVariable)
    {
        if (!environmentVariable.StartsWith(EnvironmentPrefix, StringComparison.Ordinal)) return null;
        var parts = environmentVariable[EnvironmentPrefix.Length..].Split("__");
        return string.Join(':', parts.Where(part => !part.All(char.IsAsciiDigit)));
    }

    /// <summary>The OLM_ environment variable that sets configuration key <paramref name="key"/> ("Cluster:Listen" → "OLM_Cluster__Listen").</summary>
    public static string VariableOf(string key) => EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>Whether the silo reads <paramref name="key"/>: one of <see cref="Keys"/>, or logging's open-ended section.</summary>
    public static bool IsKnown(string key) =>
        Keys.Contains(key) || key.StartsWith("Logging:", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Binds <paramref name="environment"/> (its OLM_ variables, as the silo's configuration reads them) to the silo's
    /// options and validates them as the silo does at start: the validation errors, each naming its key; none when the
    /// silo would start with it.
    /// </summary>
    public static IReadOnlyList<string> Validate(IReadOnlyDictionary<string, string> environment)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment
                .Where(variable => variable.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                .Select(variable => KeyValuePair.Create(variable.Key[EnvironmentPrefix.Length..].Replace("__", ":"), (string?)variable.Value)))
            .Build();
        var errors = new List<string>();
        foreach (var (section, type) in Sections)
        {
            object options;
            try
            {
                options = configuration.GetSection(section).Get(type) ?? Activator.CreateInstance(type)!;
            }
            catch (InvalidOperationException e)
            {
                errors.Add($"{section}: {e.Message}");
                continue;
            }
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
            errors.AddRange(results.Select(r => $"{section}:{string.Join(',', r.MemberNames)}: {r.ErrorMessage}"));
        }
        return errors;
    }
}

/// <summary>The checkout the tests were built from, where the deployment files (Dockerfile, docker-compose.yml, k8s/) are read.</summary>
public static class Repository
{
    public static string Root { get; } = Find(AppContext.BaseDirectory);

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string Find(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "OrleansLm.sln"))) return directory.FullName;
        throw new DirectoryNotFoundException($"no OrleansLm.sln above {start}: run the tests from a checkout");
    }
}
