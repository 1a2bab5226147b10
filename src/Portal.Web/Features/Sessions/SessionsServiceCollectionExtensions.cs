using Microsoft.AspNetCore.Components.Server.Circuits;

namespace Portal.Web.Features.Sessions;

/// <summary>Registers sessions.</summary>
public static class SessionsServiceCollectionExtensions
{
    /// <summary>Adds the session service and the collaboration (notes, presence) on sessions.</summary>
    public static IServiceCollection AddSessions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PresenceOptions>().Bind(configuration.GetSection("Portal:Presence"))
            .Validate(o => o.Heartbeat > TimeSpan.Zero && o.Stale > 2 * o.Heartbeat, "Portal:Presence: Heartbeat must be positive and Stale more than two heartbeats.")
            .ValidateOnStart();
        // Checked at start-up: a default the database refuses would fail every new session, not the start.
        services.AddOptions<PortalOptions>()
            .Validate(
                o => o.Links.DefaultIdleSeconds is >= SessionService.MinIdleSeconds and <= SessionService.MaxIdleSeconds,
                $"Portal:Links:DefaultIdleSeconds must be between {SessionService.MinIdleSeconds} and {SessionService.MaxIdleSeconds} seconds.")
            .ValidateOnStart();
        services.AddScoped<CircuitConnection>().AddScoped<CircuitHandler>(sp => sp.GetRequiredService<CircuitConnection>());
        return services.AddSingleton<SessionService>().AddSingleton<Collaboration>();
    }
}
