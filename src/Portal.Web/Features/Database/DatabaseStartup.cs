using Portal.Data;
using Portal.Data.Embedded;
using Portal.Data.Migrations;

namespace Portal.Web.Features.Database;

/// <summary>Chooses the database at start-up: the configured server, or the portal's own embedded cluster.</summary>
public static class DatabaseStartup
{
    /// <summary>
    /// Registers the data layer on <c>ConnectionStrings:Portal</c>, or starts the embedded PostgreSQL when that is
    /// not set and registers it to stop with the host.
    /// </summary>
    public static async Task AddPortalDatabaseAsync(this WebApplicationBuilder builder, ILogger logger)
    {
        var connectionString = builder.Configuration.GetConnectionString("Portal");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var options = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new();
            var embedded = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = options.DataDirectory }, logger);
            builder.Services.AddSingleton(embedded);
            builder.Services.AddHostedService<EmbeddedPostgresLifetime>();
            connectionString = embedded.ConnectionString;
        }

        builder.Services.AddPortalData(connectionString);
    }

    /// <summary>Applies the schema's migration files before the portal takes requests.</summary>
    public static async Task MigrateAsync(this WebApplication app)
    {
        var runner = app.Services.GetRequiredService<MigrationRunner>();
        await runner.RunAsync(MigrationScript.Embedded(), app.Lifetime.ApplicationStopping);
    }

    /// <summary>Stops the embedded cluster after everything else has stopped.</summary>
    private sealed class EmbeddedPostgresLifetime(EmbeddedPostgres postgres) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => postgres.StopAsync(CancellationToken.None);
    }
}
