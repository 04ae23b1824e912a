using System.Collections.Concurrent;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// Renders the repository's k8s/ with the real <c>kubectl kustomize</c>. A variant is a directory under k8s/
/// ("overlays/cpu"), or several joined by '+' ("overlays/cpu+components/external-postgres+example-run"): then a
/// kustomization of its own takes the directories as resources and the components/ ones as components, in order, as a
/// user's overlay would.
/// </summary>
public static class Kustomize
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<RenderedManifests>>> Rendered = new();

    /// <summary>The variant's resources; rendered once per test run.</summary>
    public static Task<RenderedManifests> RenderAsync(string variant) =>
        Rendered.GetOrAdd(variant, v => new Lazy<Task<RenderedManifests>>(() => RenderNowAsync(v))).Value;

    private static async Task<RenderedManifests> RenderNowAsync(string variant)
    {
        var kubectl = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, "kubectl")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("kubectl is not on PATH: the deployment tests render k8s/ with kubectl kustomize (kubectl ≥ 1.27)");
        var parts = variant.Split('+');
        if (parts.Length == 1) return RenderedManifests.Parse(await Tool.RunAsync(kubectl, ["kustomize", Repository.PathOf($"k8s/{variant}")]), variant);

        var directory = Directory.CreateTempSubdirectory("olm-kustomize-");
        try
        {
            string Relative(string part) => Path.GetRelativePath(directory.FullName, Repository.PathOf($"k8s/{part}"));
            string List(IEnumerable<string> paths) => $"[{string.Join(", ", paths.Select(Relative))}]";
            static bool IsComponent(string part) => part.StartsWith("components/", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "kustomization.yaml"),
                $"resources: {List(parts.Where(p => !IsComponent(p)))}\ncomponents: {List(parts.Where(IsComponent))}\n");
            return RenderedManifests.Parse(await Tool.RunAsync(kubectl, ["kustomize", directory.FullName]), variant);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
