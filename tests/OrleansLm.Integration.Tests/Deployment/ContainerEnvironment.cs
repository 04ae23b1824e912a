using System.Text;
using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// A container's environment as the kubelet builds it: envFrom's ConfigMaps first, then env in order, each value's
/// $(NAME) replaced by a variable defined before it ($$ is a literal $, an undefined name stays as written). What the
/// API server would supply comes from the caller: the downward API's fields of a sample pod, and Secret values.
/// </summary>
public static class ContainerEnvironment
{
    /// <summary>Downward API fields of a sample pod, each value distinct.</summary>
    public static IReadOnlyDictionary<string, string> SamplePodFields { get; } = new Dictionary<string, string>
    {
        ["metadata.name"] = "olm-silo-1",
        ["metadata.namespace"] = "orleanslm-sample",
        ["spec.nodeName"] = "node-7",
        ["status.podIP"] = "10.42.3.17",
        ["status.hostIP"] = "192.168.7.4",
    };

    /// <summary>A realistic secret: distinct per key, hexadecimal, longer than any minimum the silo sets.</summary>
    public static string SampleSecret(string secret, string key) =>
        $"{key}-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{secret}/{key}")))[..32]}";

    public static IReadOnlyDictionary<string, string> Resolve(
        RenderedManifests manifests, PodTemplate pod, JsonObject container, Func<string, string, string> secretValue)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container["envFrom"]?.AsArray() ?? [])
        {
            var configMap = source!["configMapRef"] ?? throw new Xunit.Sdk.XunitException($"{pod.Describe(container, "envFrom")}: only configMapRef is read by these tests");
            foreach (var (name, value) in Manifest.Strings(manifests.Single("ConfigMap", PodTemplate.NameOf(configMap)).Find("data")))
                environment[name] = value;
        }
        foreach (var variable in container["env"]?.AsArray() ?? [])
        {
            var name = PodTemplate.NameOf(variable);
            if (variable!["valueFrom"] is not null && variable["value"] is not null)
                throw new Xunit.Sdk.XunitException($"{pod.Describe(container, $"env {name}")}: has both value and valueFrom, which the API server refuses");
            environment[name] = variable["valueFrom"] is { } from
                ? ValueFrom(manifests, pod.Describe(container, $"env {name}"), from, secretValue)
                : Expand(Manifest.Scalar(variable["value"]), environment);
        }
        return environment;
    }

    private static string ValueFrom(RenderedManifests manifests, string where, JsonNode from, Func<string, string, string> secretValue)
    {
        if (from["fieldRef"]?["fieldPath"] is { } field)
            return SamplePodFields.TryGetValue(field.GetValue<string>(), out var value)
                ? value
                : throw new Xunit.Sdk.XunitException($"{where}: fieldRef {field} has no sample value in these tests");
        if (from["secretKeyRef"] is { } secret) return secretValue(PodTemplate.NameOf(secret), secret["key"]!.GetValue<string>());
        if (from["configMapKeyRef"] is { } configMap)
        {
            var key = configMap["key"]!.GetValue<string>();
            return Manifest.Strings(manifests.Single("ConfigMap", PodTemplate.NameOf(configMap)).Find("data")).TryGetValue(key, out var value)
                ? value
                : throw new Xunit.Sdk.XunitException($"{where}: ConfigMap {PodTemplate.NameOf(configMap)} has no key {key}");
        }
        throw new Xunit.Sdk.XunitException($"{where}: valueFrom {from.ToJsonString()} is not read by these tests");
    }

    /// <summary>Kubernetes' dependent variables: $(NAME) of a variable defined earlier, $$ a literal $.</summary>
    public static string Expand(string value, IReadOnlyDictionary<string, string> defined)
    {
        var expanded = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '$' || i + 1 == value.Length)
            {
                expanded.Append(value[i]);
                continue;
            }
            var close = value[i + 1] == '(' ? value.IndexOf(')', i + 2) : -1;
            if (value[i + 1] == '$')
            {
                expanded.Append('$');
                i++;
            }
            else if (close > 0 && defined.TryGetValue(value[(i + 2)..close], out var replacement))
            {
                expanded.Append(replacement);
                i = close;
            }
            else
            {
                expanded.Append('$');
            }
        }
        return expanded.ToString();
    }
}
