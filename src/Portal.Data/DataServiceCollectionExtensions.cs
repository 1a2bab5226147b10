using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Data.Events;
using Portal.Data.Migrations;

namespace Portal.Data;

/// <summary>Registers the portal's data layer.</summary>
public static class DataServiceCollectionExtensions
{
    /// <summary>Adds the data source, the DbContext, the migration runner and the event bus for one connection string.</summary>
    public static IServiceCollection AddPortalData(this IServiceCollection services, string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            // Statements run often (ingest's batch insert, the findings queries, EF's queries) are prepared on each
            // connection after a few uses, so PostgreSQL stops parsing and planning them every time.
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        }

        var dataSource = builder.Build();
        services.AddSingleton(dataSource);
        // One pool of contexts: components and services create short-lived ones from the factory, while request
        // handlers and Identity's stores get a scoped one from the same pool.
        services.AddPooledDbContextFactory<PortalDbContext>(o => o.UseNpgsql(dataSource));
        services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContext());
        services.AddSingleton<MigrationRunner>();
        services.AddSingleton<PortalEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<PortalEvents>());
        return services;
    }
}
