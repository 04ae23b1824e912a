using System.Net;
using Npgsql;
using OrleansLm.Silo;
using OrleansLm.Testing;
using YamlDotNet.RepresentationModel;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// docker-compose.yml as Compose resolves it (<c>docker-compose config</c>; no Docker engine here), each silo's
/// environment as its container gets it (the image's ENV under the service's), against the silo's configuration
/// keys and validation, and against the other services: PostgreSQL, Prometheus, Grafana, the client.
/// </summary>
public sealed class ComposeTests(ComposeTests.DefaultConfig config) : IClassFixture<ComposeTests.DefaultConfig>
{
    /// <summary>The file resolved with every secret at its default, as a bare <c>docker compose up</c> runs it.</summary>
    public sealed class DefaultConfig : IAsyncLifetime
    {
        private ComposeProject? project;

        public ComposeProject Project => project ?? throw new InvalidOperationException("docker-compose config has not run");

        public async Task InitializeAsync() => project = await ComposeProject.ConfigAsync(DeploymentFiles.ComposePath);

        public Task DisposeAsync() => Task.CompletedTask;
    }

    private const string Postgres = "postgres";
    private const string Prometheus = "prometheus";
    private const string Grafana = "grafana";
    private const string Client = "client";

    private ComposeProject Project => config.Project;

    private IReadOnlyList<ComposeService> Silos => DeploymentFiles.Silos(Project);

    private static string Variable(string key) => SiloConfiguration.VariableOf(key);

    [Fact]
    public void TheClusterIsPostgresThreeSilosPrometheusAndGrafana()
    {
        Project.Services.Keys.Should().Contain([Postgres, Prometheus, Grafana]);
        Silos.Select(silo => silo.Name).Should().Equal("silo-1", "silo-2", "silo-3");
        Silos.Select(silo => silo.Image).Distinct().Should().ContainSingle("the silos run one image");
        Silos.Where(silo => silo.Profiles.Count > 0).Should().BeEmpty("`docker compose up` must start every silo");
        Project.Services.Values.Where(service => service.Profiles.Count > 0).Select(service => service.Name).Should().Equal(Client);
    }

    [Fact]
    public void EveryImagePulledIsPinnedToAVersion()
    {
        var pulled = Project.Services.Values.Where(service => service.Node.ChildOrNull("build") is null).ToList();
        pulled.Should().Contain(service => service.Name == Postgres);
        pulled.Where(service => service.Image is null || !DeploymentFiles.IsPinned(service.Image))
            .Select(service => $"{service}: {service.Image}").Should().BeEmpty("images must name a fixed version");
    }

    [Fact]
    public void ExactlyOneSiloPublishesTheGatewayAndOnlyOnLoopback()
    {
        Silos.Where(silo => silo.Ports.Any(port => port.Target == Listeners(silo).Gateway.Port)).Should().ContainSingle("the issue asks for the gateway on one port");
        foreach (var silo in Silos)
        {
            var listeners = Listeners(silo);
            silo.Ports.Where(port => port.Target != listeners.Gateway.Port && port.Target != listeners.Http.Port)
                .Should().BeEmpty($"{silo} may publish only its gateway ({listeners.Gateway.Port}) and HTTP ({listeners.Http.Port}) ports; the grain port stays in the network");
            silo.Ports.Where(port => port.HostIp != "127.0.0.1")
                .Should().BeEmpty($"{silo}: with the default tokens, published ports must listen on the host's loopback only");
        }
        var published = Silos.SelectMany(silo => silo.Ports).Select(port => port.Published).ToList();
        published.Should().OnlyHaveUniqueItems().And.NotContain((int?)null);
        published.Should().NotContain(Listeners(Silos[0]).Http.Port, "a silo on the host (scripts/main.sh) has that port, and Prometheus' host job scrapes it");
    }

    [Fact]
    public void EverySilosEnvironmentNamesKnownKeysAndPassesTheSilosValidation()
    {
        foreach (var silo in Silos)
        {
            var environment = DeploymentFiles.EnvironmentOf(silo);
            environment.Keys.Where(name => name.StartsWith(SiloConfiguration.EnvironmentPrefix, StringComparison.Ordinal))
                .Where(name => !SiloConfiguration.IsKnown(SiloConfiguration.KeyOf(name)!))
                .Should().BeEmpty($"{silo}: every OLM_ variable must name a key the silo reads");
            SiloConfiguration.Validate(Started(silo)).Should().BeEmpty($"{silo} must start with its configuration");
            environment.Should().ContainKeys([Variable("Cluster:Postgres"), Variable("Cluster:Secret"), Variable("Gateway:AdminToken"), Variable("Gateway:SamplingToken")],
                $"{silo} joins a PostgreSQL cluster and takes training control");
        }
    }

    [Fact]
    public void EachSiloAdvertisesTheAddressOfItsOwnName()
    {
        foreach (var silo in Silos)
        {
            var environment = DeploymentFiles.EnvironmentOf(silo);
            silo.Hostname.Should().Be(silo.Name, $"{silo}'s host name resolves to its own address, which its entrypoint advertises, and names it (Silo:Name)");
            environment.Should().NotContainKey(Variable("Cluster:AdvertisedHost"), $"{silo}: one address for all would send every silo's calls to one");
            Listeners(silo).Grain.Address.Should().Be(IPAddress.Any, $"{silo}: the entrypoint advertises the container's address for a wildcard listener");
            environment.Should().NotContainKey(Variable("Silo:Name"), $"{silo} is named by its host name");
        }
    }

    [Fact]
    public void TheSilosShareOneClusterIdSecretDatabaseAndTokens()
    {
        foreach (var key in new[] { "Cluster:ClusterId", "Cluster:Secret", "Cluster:Postgres", "Gateway:AdminToken", "Gateway:SamplingToken" })
            Silos.Select(silo => DeploymentFiles.EnvironmentOf(silo).GetValueOrDefault(Variable(key))).Distinct().Should().ContainSingle($"every silo needs the same {key}");
    }

    [Fact]
    public void SilosConnectToTheDatabaseUserAndPasswordPostgresCreates()
    {
        var postgres = Project[Postgres].Environment;
        foreach (var silo in Silos)
        {
            var connection = new NpgsqlConnectionStringBuilder(DeploymentFiles.EnvironmentOf(silo)[Variable("Cluster:Postgres")]);
            connection.Host.Should().Be(Postgres, $"{silo} reaches PostgreSQL by its service name");
            connection.Port.Should().Be(5432, $"{silo}: the postgres image listens on 5432");
            connection.Database.Should().Be(postgres["POSTGRES_DB"], $"{silo}: Database");
            connection.Username.Should().Be(postgres["POSTGRES_USER"], $"{silo}: Username");
            connection.Password.Should().Be(postgres["POSTGRES_PASSWORD"], $"{silo}: Password");
        }
    }

    [Fact]
    public void SilosStartOnceThePostgresHealthCheckPassesOverTcp()
    {
        var postgres = Project[Postgres];
        var test = postgres.HealthcheckTest;
        test.Should().NotBeNull("depends_on: service_healthy needs a health check");
        test![0].Should().Be("CMD");
        test.Should().Contain("pg_isready");
        // During initialisation the image's temporary server listens on the Unix socket only: TCP waits for the real one.
        test[test.ToList().IndexOf("-h") + 1].Should().Be("127.0.0.1");
        test[test.ToList().IndexOf("-U") + 1].Should().Be(postgres.Environment["POSTGRES_USER"]);
        test[test.ToList().IndexOf("-d") + 1].Should().Be(postgres.Environment["POSTGRES_DB"]);
        foreach (var silo in Silos)
            silo.DependsOn.Should().Contain(Postgres, "service_healthy", $"{silo} must wait for a PostgreSQL that accepts connections");
    }

    [Fact]
    public void EverySiloMountsOneSharedVolumeHoldingCheckpointsAndModels()
    {
        var mounts = new List<ComposeMount>();
        foreach (var silo in Silos)
        {
            var environment = DeploymentFiles.EnvironmentOf(silo);
            var checkpoints = environment[Variable("Cluster:CheckpointRoot")];
            var models = environment[Variable("Gateway:ModelDirectory")];
            var mount = silo.Volumes.SingleOrDefault(volume => IsUnder(checkpoints, volume.Target));
            mount.Should().NotBeNull($"{silo} must mount a volume at or above its CheckpointRoot {checkpoints}");
            mount!.Type.Should().Be("volume", $"{silo}: a named volume, shared by the silos");
            Project.Volumes.Should().Contain(mount.Source, $"{silo}: the volume must be declared");
            mount.ReadOnly.Should().BeFalse($"{silo} writes checkpoints");
            IsUnder(models, mount.Target).Should().BeTrue($"{silo}: ModelDirectory {models} must be on the shared volume, so that every silo serves every export");
            (IsUnder(models, checkpoints) || IsUnder(checkpoints, models)).Should().BeFalse(
                $"{silo}: a run named like the models directory would share it (CheckpointRoot {checkpoints}, ModelDirectory {models})");
            mounts.Add(mount);
        }
        mounts.Distinct().Should().ContainSingle("every silo must see every run's checkpoints at the same path");
    }

    [Fact]
    public async Task PrometheusScrapesExactlyTheSilosHttpPorts()
    {
        var prometheus = Project[Prometheus];
        var configFile = prometheus.Command.Single(argument => argument.StartsWith("--config.file=", StringComparison.Ordinal))["--config.file=".Length..];
        var mount = prometheus.Volumes.Single(volume => volume.Target == configFile);
        File.Exists(mount.Source).Should().BeTrue($"{Prometheus} mounts {mount.Source} as its configuration");
        await Tool.RunAsync("/usr/bin/promtool", ["check", "config", mount.Source]);

        var jobs = ScrapeJobs(mount.Source);
        var services = Project.Services.Keys.ToHashSet();
        var clusterJobs = jobs.Where(job => job.Targets.Any(target => services.Contains(target.Split(':')[0]))).ToList();
        clusterJobs.Should().ContainSingle("one job scrapes the compose silos, so no silo's series are counted twice");
        var job = clusterJobs[0];
        job.MetricsPath.Should().Be("/metrics");
        job.Targets.Should().BeEquivalentTo(Silos.Select(silo => $"{silo.Name}:{Listeners(silo).Http.Port}"),
            "Prometheus must scrape every silo's HTTP port, where /metrics is");
    }

    [Fact]
    public void GrafanaMountsItsProvisioningAndTheDashboardsTheProviderReads()
    {
        var grafana = Project[Grafana];
        var mounts = grafana.Volumes.Where(volume => volume.Type == "bind").ToList();
        mounts.Where(mount => !Directory.Exists(mount.Source)).Should().BeEmpty($"{Grafana}'s mounts must be directories of the repository");
        mounts.Should().OnlyContain(mount => mount.ReadOnly);

        var provisioning = mounts.Single(mount => mount.Target == "/etc/grafana/provisioning").Source;
        var provider = LoadYaml(Directory.GetFiles(Path.Combine(provisioning, "dashboards"), "*.yaml").Single());
        var dashboardsPath = provider.Child("providers").Sequence().Children.Single().Mapping().Child("options").Mapping().Child("path").Scalar();
        var dashboards = mounts.SingleOrDefault(mount => mount.Target == dashboardsPath);
        dashboards.Should().NotBeNull($"the dashboard provider reads {dashboardsPath}, which {Grafana} must mount");
        Directory.GetFiles(dashboards!.Source, "*.json").Should().NotBeEmpty();

        var home = grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"];
        IsUnder(home, dashboards.Target).Should().BeTrue();
        File.Exists(Path.Combine(dashboards.Source, Path.GetRelativePath(dashboards.Target, home))).Should().BeTrue($"the home dashboard {home}");

        var source = LoadYaml(Directory.GetFiles(Path.Combine(provisioning, "datasources"), "*.yaml").Single());
        var url = new Uri(source.Child("datasources").Sequence().Children.Single().Mapping().Child("url").Scalar());
        url.Host.Should().Be(Prometheus, "the data source is the compose Prometheus, by service name");
        url.Port.Should().Be(9090, "Prometheus listens on its default port");
        Project[Prometheus].Command.Should().NotContain(argument => argument.StartsWith("--web.listen-address", StringComparison.Ordinal));
    }

    [Fact]
    public void SilosGetMoreTimeToStopThanTheirShutdownBudget()
    {
        foreach (var silo in Silos)
        {
            var environment = DeploymentFiles.EnvironmentOf(silo);
            var budget = environment.TryGetValue(Variable("Silo:ShutdownSeconds"), out var seconds) ? int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) : new SiloOptions().ShutdownSeconds;
            silo.StopGracePeriod.Should().BeGreaterThan(TimeSpan.FromSeconds(budget), $"{silo}: docker stop must not kill the silo before its runs hand off");
        }
    }

    [Fact]
    public void TheClientTalksToASilosGatewayWithTheAdminToken()
    {
        var client = Project[Client];
        client.BuildTarget.Should().Be(DeploymentFiles.ClientTarget);
        var gateway = new Uri(client.Environment["OLM_GATEWAY"]);
        var silo = Silos.SingleOrDefault(silo => silo.Name == gateway.Host);
        silo.Should().NotBeNull($"OLM_GATEWAY {gateway} must name a silo service");
        gateway.Port.Should().Be(Listeners(silo!).Gateway.Port);
        client.Environment["OLM_TOKEN"].Should().Be(DeploymentFiles.EnvironmentOf(silo!)[Variable("Gateway:AdminToken")]);
        client.DependsOn.Should().Contain(silo!.Name, "service_healthy");
        (silo.HealthcheckTest ?? DeploymentFiles.LoadDockerfile().Image(silo.BuildTarget!).Healthcheck)
            .Should().NotBeNull($"{silo} is healthy only by a health check, of the service or of its image");
    }

    [Fact]
    public async Task SecretsComeFromTheEnvironment()
    {
        var secrets = new Dictionary<string, string>
        {
            ["ORLEANSLM_ADMIN_TOKEN"] = $"admin-{Guid.NewGuid():N}",
            ["ORLEANSLM_SAMPLING_TOKEN"] = $"sampling-{Guid.NewGuid():N}",
            ["ORLEANSLM_CLUSTER_SECRET"] = $"secret-{Guid.NewGuid():N}",
            ["ORLEANSLM_POSTGRES_PASSWORD"] = $"password-{Guid.NewGuid():N}",
        };
        var configured = await ComposeProject.ConfigAsync(DeploymentFiles.ComposePath, secrets);

        configured[Postgres].Environment["POSTGRES_PASSWORD"].Should().Be(secrets["ORLEANSLM_POSTGRES_PASSWORD"]);
        configured[Client].Environment["OLM_TOKEN"].Should().Be(secrets["ORLEANSLM_ADMIN_TOKEN"]);
        foreach (var silo in DeploymentFiles.Silos(configured))
        {
            var environment = silo.Environment;
            environment[Variable("Gateway:AdminToken")].Should().Be(secrets["ORLEANSLM_ADMIN_TOKEN"], $"{silo}");
            environment[Variable("Gateway:SamplingToken")].Should().Be(secrets["ORLEANSLM_SAMPLING_TOKEN"], $"{silo}");
            environment[Variable("Cluster:Secret")].Should().Be(secrets["ORLEANSLM_CLUSTER_SECRET"], $"{silo}");
            new NpgsqlConnectionStringBuilder(environment[Variable("Cluster:Postgres")]).Password.Should().Be(secrets["ORLEANSLM_POSTGRES_PASSWORD"], $"{silo}");
        }
        // The defaults differ from what was set: the values above came from the variables, not from the file.
        DeploymentFiles.Silos(Project)[0].Environment[Variable("Gateway:AdminToken")].Should().NotBe(secrets["ORLEANSLM_ADMIN_TOKEN"]);
    }

    private static SiloListeners Listeners(ComposeService silo) => SiloListeners.Of(DeploymentFiles.EnvironmentOf(silo), silo.Name);

    /// <summary>The silo's environment once its entrypoint has set the address it advertises (any address of the container network).</summary>
    private static Dictionary<string, string> Started(ComposeService silo) =>
        new(DeploymentFiles.EnvironmentOf(silo)) { [Variable("Cluster:AdvertisedHost")] = "172.18.0.3" };

    private static bool IsUnder(string path, string directory) =>
        path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    private sealed record ScrapeJob(string Name, string MetricsPath, IReadOnlyList<string> Targets);

    private static IReadOnlyList<ScrapeJob> ScrapeJobs(string configFile) =>
        LoadYaml(configFile).Child("scrape_configs").Sequence().Children.Select(node => node.Mapping()).Select(job => new ScrapeJob(
            job.Child("job_name").Scalar(),
            job.ChildOrNull("metrics_path")?.Scalar() ?? "/metrics",
            job.Child("static_configs").Sequence().Children.SelectMany(group => group.Mapping().Child("targets").Scalars()).ToList())).ToList();

    private static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        using var reader = File.OpenText(path);
        stream.Load(reader);
        return stream.Documents.Single().RootNode.Mapping();
    }
}
