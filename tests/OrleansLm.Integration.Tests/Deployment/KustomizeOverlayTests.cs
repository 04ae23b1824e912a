using System.Data.Common;
using System.Net;
using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The overlays as <c>kubectl kustomize</c> renders them, checked against each other and against the silo's own
/// configuration: selectors, ports, probes, the environment, references, the shared volume.
/// </summary>
public class KustomizeOverlayTests
{
    public static TheoryData<string> Variants => ["overlays/cpu", "overlays/gpu", "overlays/cpu+components/external-postgres"];

    public static TheoryData<string> InClusterPostgres => ["overlays/cpu", "overlays/gpu"];

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task EveryResourceButTheNamespaceLiesInIt(string variant)
    {
        var manifests = await Kustomize.RenderAsync(variant);

        var namespaces = manifests.OfKind("Namespace").ToList();
        namespaces.Should().ContainSingle($"{variant} creates its namespace");
        foreach (var manifest in manifests.All.Except(namespaces))
            manifest.Namespace.Should().Be(namespaces[0].Name, $"{manifest}: metadata.namespace");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task SiloStatefulSetOwnsItsPodsThroughAHeadlessService(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);
        var statefulSet = silo.Pod.Workload;
        statefulSet.Kind.Should().Be("StatefulSet");

        silo.Pod.IsSelectedBy(Manifest.Strings(statefulSet.At("spec.selector.matchLabels")))
            .Should().BeTrue($"{statefulSet}: spec.selector must match spec.template.metadata.labels {Describe(silo.Pod.Labels)}");
        var service = silo.Manifests.Single("Service", statefulSet.At("spec.serviceName").GetValue<string>());
        Manifest.Scalar(service.Find("spec.clusterIP")).Should().Be("None", $"{service} is {statefulSet}'s spec.serviceName, so headless");
        (service.Find("spec.publishNotReadyAddresses")?.GetValue<bool>()).Should().BeTrue($"{service}: spec.publishNotReadyAddresses names starting and draining silos too");
        silo.Pod.IsSelectedBy(Manifest.Strings(service.Find("spec.selector"))).Should().BeTrue($"{service}: spec.selector must pick {statefulSet}'s pods");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task EveryServiceSelectsOneWorkloadAndTargetsItsPorts(string variant)
    {
        var manifests = await Kustomize.RenderAsync(variant);

        foreach (var service in manifests.OfKind("Service"))
        {
            var selector = Manifest.Strings(service.At("spec.selector"));
            var pods = manifests.PodTemplates.Where(p => p.IsSelectedBy(selector)).ToList();
            pods.Should().ContainSingle($"{service}: spec.selector {Describe(selector)} should pick one workload's pods");
            foreach (var port in service.At("spec.ports").AsArray())
            {
                var target = port!["targetPort"] ?? port["port"];
                var field = $"{service}: spec.ports {port["name"]} targetPort {target}";
                pods[0].Containers.Should().Contain(c => Targets(c, target!), $"{field} must be a port of {pods[0].Workload}'s containers");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task SilosAreServedByTheGatewayAndHeadlessServicesOnly(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        var services = silo.Services.ToList();
        services.Should().HaveCount(2, $"{variant}: the headless Service and the gateway's select the silos");
        var gateway = services.Single(s => Manifest.Scalar(s.Find("spec.clusterIP")) != "None");
        gateway.At("spec.ports").AsArray().Should().Contain(p => Manifest.Scalar(p!["targetPort"]) == "gateway",
            $"{gateway}: spec.ports must lead to the silos' gateway port");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task BudgetSpreadAndServiceMonitorCoverTheSilosAlone(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);
        var others = silo.Manifests.PodTemplates.Where(p => p.Workload != silo.Pod.Workload).ToList();

        var budget = silo.Manifests.OfKind("PodDisruptionBudget").Should().ContainSingle().Subject;
        var budgetSelector = Manifest.Strings(budget.At("spec.selector.matchLabels"));
        silo.Pod.IsSelectedBy(budgetSelector).Should().BeTrue($"{budget}: spec.selector must pick the silos");
        others.Should().NotContain(p => p.IsSelectedBy(budgetSelector), $"{budget}: spec.selector picks the silos only");
        Manifest.Scalar(budget.At("spec.maxUnavailable")).Should().Be("1", $"{budget}: one silo hands its runs off at a time");

        foreach (var constraint in silo.Pod.Spec["topologySpreadConstraints"]?.AsArray() ?? [])
            silo.Pod.IsSelectedBy(Manifest.Strings(constraint!["labelSelector"]?["matchLabels"]))
                .Should().BeTrue($"{silo.Pod.Workload}: topologySpreadConstraints {constraint["topologyKey"]} must count the silos");

        var monitor = silo.Manifests.OfKind("ServiceMonitor").Should().ContainSingle().Subject;
        var monitorSelector = Manifest.Strings(monitor.At("spec.selector.matchLabels"));
        var scraped = silo.Manifests.OfKind("Service").Where(s => monitorSelector.Count > 0 && monitorSelector.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        scraped.Should().ContainSingle($"{monitor}: spec.selector should pick one Service (two would scrape each silo twice)");
        Manifest.Scalar(scraped[0].Find("spec.clusterIP")).Should().Be("None", $"{monitor} scrapes through the headless Service, which lists draining silos too");
        silo.Pod.IsSelectedBy(Manifest.Strings(scraped[0].At("spec.selector"))).Should().BeTrue($"{monitor} scrapes {scraped[0]}, which must pick the silos");
        foreach (var endpoint in monitor.At("spec.endpoints").AsArray())
        {
            var port = scraped[0].At("spec.ports").AsArray().SingleOrDefault(p => Manifest.Scalar(p!["name"]) == Manifest.Scalar(endpoint!["port"]));
            port.Should().NotBeNull($"{monitor}: spec.endpoints port {endpoint!["port"]} must name a port of {scraped[0]}");
            Targets(silo.Container, port!["targetPort"]!).Should().BeTrue($"{scraped[0]}: port {endpoint!["port"]} must lead to the silo's port");
            Manifest.Scalar(port["targetPort"]).Should().Be("metrics", $"{monitor}: spec.endpoints must scrape the silo's metrics port");
            Manifest.Scalar(endpoint["path"]).Should().Be("/metrics", $"{monitor}: spec.endpoints path");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task ContainerPortsAreWhereTheSiloListensOnEveryAddress(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        var grain = IPEndPoint.Parse(silo.Setting("Cluster:Listen"));
        var gateway = new Uri(silo.Setting("Gateway:Listen"));
        var urls = silo.Setting(SiloConfiguration.UrlsKey).Split(';').Select(u => new Uri(u.Replace("://+", "://0.0.0.0").Replace("://*", "://0.0.0.0"))).ToList();

        silo.ContainerPort("grain").Should().Be(grain.Port, "the container port named grain is Cluster:Listen's");
        silo.ContainerPort("gateway").Should().Be(gateway.Port, "the container port named gateway is Gateway:Listen's");
        silo.ContainerPort("metrics").Should().Be(urls.Single().Port, "the container port named metrics is Urls'");
        // Another pod, the kubelet and Prometheus reach a pod on its IP, not on loopback.
        grain.Address.Should().Be(IPAddress.Any, "Cluster:Listen");
        IPAddress.Parse(gateway.Host).Should().Be(IPAddress.Any, "Gateway:Listen");
        IPAddress.Parse(urls.Single().Host).Should().Be(IPAddress.Any, "Urls");
        gateway.Scheme.Should().Be("http", "Gateway:Listen: Kubernetes' gRPC probes speak cleartext HTTP/2");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task ProbesAskGrpcHealthOnTheGatewayPortAndSpareADrainingSilo(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);
        var gatewayPort = silo.ContainerPort("gateway");

        foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
        {
            var grpc = silo.Container[probe]?["grpc"];
            grpc.Should().NotBeNull($"{silo.Pod.Describe(silo.Container, probe)} asks grpc.health.v1.Health");
            grpc!["port"]!.GetValue<long>().Should().Be(gatewayPort, $"{silo.Pod.Describe(silo.Container, probe)}.grpc.port is the gateway's");
        }
        // A stopping silo answers NOT_SERVING for up to Silo:ShutdownSeconds: liveness must not kill it meanwhile.
        var liveness = silo.Container["livenessProbe"]!;
        var patience = (liveness["periodSeconds"]?.GetValue<long>() ?? 10) * (liveness["failureThreshold"]?.GetValue<long>() ?? 3);
        patience.Should().BeGreaterThan(int.Parse(silo.Setting("Silo:ShutdownSeconds")),
            $"{silo.Pod.Describe(silo.Container, "livenessProbe")}: periodSeconds × failureThreshold must outlast Silo:ShutdownSeconds");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task GracePeriodCoversThePreStopPauseAndTheSilosShutdown(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        var grace = silo.Pod.Spec["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
        var preStop = silo.Container["lifecycle"]?["preStop"]?["sleep"]?["seconds"]?.GetValue<long>() ?? 0;
        grace.Should().BeGreaterThan(preStop + int.Parse(silo.Setting("Silo:ShutdownSeconds")),
            $"{silo.Pod.Workload}: terminationGracePeriodSeconds must exceed the preStop sleep ({preStop}) plus Silo:ShutdownSeconds, or the kubelet SIGKILLs a draining silo");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task EveryOlmVariableSetsAKeyTheSiloReads(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        var variables = silo.Environment.Keys.Where(name => name.StartsWith(SiloConfiguration.EnvironmentPrefix, StringComparison.Ordinal)).ToList();
        variables.Should().NotBeEmpty();
        foreach (var name in variables)
            SiloConfiguration.IsKnown(SiloConfiguration.KeyOf(name)!).Should().BeTrue(
                $"{silo.Pod.Describe(silo.Container, "env")} {name} sets {SiloConfiguration.KeyOf(name)}, which the silo does not read");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task DownwardApiNamesTheSiloAndTheAddressOtherSilosDial(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        silo.Setting("Silo:Name").Should().Be(ContainerEnvironment.SamplePodFields["metadata.name"], "Silo:Name is the pod's name (downward API metadata.name)");
        silo.Setting("Cluster:AdvertisedHost").Should().Be(ContainerEnvironment.SamplePodFields["status.podIP"], "Cluster:AdvertisedHost is the pod's IP (downward API status.podIP)");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task EverySecretConfigMapAndClaimAPodNeedsIsRendered(string variant)
    {
        var manifests = await Kustomize.RenderAsync(variant);

        var references = manifests.PodTemplates.SelectMany(p => p.References).ToList();
        references.Should().Contain(r => r.Kind == "Secret" && r.Key != null);
        foreach (var reference in references)
        {
            var target = manifests.Find(reference.Kind, reference.Name);
            target.Should().NotBeNull($"{reference.Where} needs {reference.Kind}/{reference.Name}");
            if (reference.Key is not { } key) continue;
            var present = reference.Kind == "Secret"
                ? manifests.SecretValue(reference.Name, key) is not null
                : Manifest.Strings(target!.Find("data")).ContainsKey(key);
            present.Should().BeTrue($"{reference.Where} needs key {key} of {reference.Kind}/{reference.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task SiloValidatesItsEnvironment(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        SiloConfiguration.Validate(silo.Environment).Should().BeEmpty($"{silo.Pod.Describe(silo.Container, "env")} with realistic secrets");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task SiloRefusesTheSecretTemplatesPlaceholders(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        var environment = ContainerEnvironment.Resolve(silo.Manifests, silo.Pod, silo.Container,
            (secret, key) => silo.Manifests.SecretValue(secret, key) ?? throw new Xunit.Sdk.XunitException($"Secret/{secret} has no key {key}"));

        SiloConfiguration.Validate(environment).Should().Contain(e => e.Contains("Gateway:AdminToken")).And.Contain(e => e.Contains("Gateway:SamplingToken"),
            "a silo must not start with the Secret template's placeholder tokens");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task CheckpointsAndExportsLiveOnAVolumeEverySiloShares(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);

        foreach (var key in new[] { "Cluster:CheckpointRoot", "Gateway:ModelDirectory" })
        {
            var directory = silo.Setting(key);
            Path.IsPathRooted(directory).Should().BeTrue($"{key} '{directory}' must not depend on the image's working directory");
            var mount = PodTemplate.MountHolding(silo.Container, directory + "/");
            mount.Should().NotBeNull($"{silo.Pod.Describe(silo.Container, "volumeMounts")}: none holds {key} {directory}");
            var claim = silo.Pod.Volume(PodTemplate.NameOf(mount))["persistentVolumeClaim"]?["claimName"]?.GetValue<string>();
            claim.Should().NotBeNull($"{silo.Pod.Workload}: {key} {directory} must be on a PersistentVolumeClaim, not the pod's own disk");
            var volumeClaim = silo.Manifests.Single("PersistentVolumeClaim", claim!);
            volumeClaim.At("spec.accessModes").AsArray().Select(Manifest.Scalar).Should().Contain("ReadWriteMany",
                $"{volumeClaim}: spec.accessModes: every silo mounts {key} {directory}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task EveryContainerRequestsCpuWithoutALimit(string variant)
    {
        var manifests = await Kustomize.RenderAsync(variant);

        foreach (var pod in manifests.PodTemplates)
        foreach (var container in pod.Containers)
        {
            (container["resources"]?["requests"]?["cpu"]).Should().NotBeNull($"{pod.Describe(container, "resources.requests.cpu")} lets the scheduler place it");
            (container["resources"]?["limits"]?["cpu"]).Should().BeNull($"{pod.Describe(container, "resources.limits.cpu")}: a CFS quota throttles it mid-step");
        }
    }

    [Theory]
    [MemberData(nameof(InClusterPostgres))]
    public async Task SilosConnectToTheInClusterPostgres(string variant)
    {
        var silo = await SiloDeployment.RenderAsync(variant);
        var connection = new DbConnectionStringBuilder { ConnectionString = silo.Setting("Cluster:Postgres") };

        var service = silo.Manifests.Single("Service", (string)connection["Host"]);
        var postgres = silo.Manifests.PodTemplates.Single(p => p.IsSelectedBy(Manifest.Strings(service.At("spec.selector"))));
        var port = service.At("spec.ports").AsArray().Single(p => p!["port"]!.GetValue<long>() == long.Parse((string)connection["Port"]));
        var container = postgres.Containers.Single(c => Targets(c, port!["targetPort"]!));
        var server = ContainerEnvironment.Resolve(silo.Manifests, postgres, container, ContainerEnvironment.SampleSecret);

        PodTemplate.PortNamed(container, Manifest.Scalar(port!["targetPort"])).Should().Be(5432, $"{postgres.Describe(container, "ports")}: PostgreSQL's port");
        connection["Username"].Should().Be(server["POSTGRES_USER"], $"Cluster:Postgres Username is the user {postgres.Workload} creates");
        connection["Database"].Should().Be(server["POSTGRES_DB"], $"Cluster:Postgres Database is the database {postgres.Workload} creates");
        connection["Password"].Should().Be(server["POSTGRES_PASSWORD"], $"Cluster:Postgres Password is {postgres.Workload}'s, from the same Secret key");
    }

    [Fact]
    public async Task ExternalPostgresTakesTheWholeConnectionStringFromTheSecret()
    {
        var silo = await SiloDeployment.RenderAsync("overlays/cpu+components/external-postgres");

        silo.Manifests.PodTemplates.Should().NotContain(p => p.Containers.Any(c => SiloDeployment.ImageRepository(c) == "postgres"),
            "components/external-postgres leaves the in-cluster PostgreSQL out");
        silo.Manifests.Find("Service", "olm-postgres").Should().BeNull("components/external-postgres leaves the in-cluster PostgreSQL's Service out");
        var source = silo.Container["env"]!.AsArray().Single(v => PodTemplate.NameOf(v) == "OLM_Cluster__Postgres")!["valueFrom"]?["secretKeyRef"];
        source.Should().NotBeNull($"{silo.Pod.Describe(silo.Container, "env OLM_Cluster__Postgres")} comes from the Secret");
        silo.Setting("Cluster:Postgres").Should().Be(ContainerEnvironment.SampleSecret(PodTemplate.NameOf(source), source!["key"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ExistingSecretLeavesTheTemplateOutAndNothingElse()
    {
        var withTemplate = await Kustomize.RenderAsync("overlays/cpu+components/external-postgres");
        var without = await Kustomize.RenderAsync("overlays/cpu+components/external-postgres+components/existing-secret");

        without.OfKind("Secret").Should().BeEmpty("components/existing-secret leaves base/secret.yaml out");
        without.All.Select(m => m.ToString()).Should().BeEquivalentTo(withTemplate.All.Select(m => m.ToString()).Where(m => !m.StartsWith("Secret/", StringComparison.Ordinal)));
        new SiloDeployment(without).Environment.Should().Equal(new SiloDeployment(withTemplate).Environment);
    }

    /// <summary>Whether <paramref name="target"/> (a port name or number) is one of <paramref name="container"/>'s ports.</summary>
    private static bool Targets(JsonObject container, JsonNode target) =>
        target.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? container["ports"]?.AsArray().Any(p => p!["containerPort"]!.GetValue<long>() == target.GetValue<long>()) == true
            : PodTemplate.PortNamed(container, target.GetValue<string>()) is not null;

    private static string Describe(IReadOnlyDictionary<string, string> labels) => "{" + string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}")) + "}";
}
