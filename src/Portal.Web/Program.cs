using Portal.Data.Embedded;
using Portal.Data.Migrations;
using Portal.Web;
using Portal.Web.Components;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.Admin;
using Portal.Web.Features.Reports;
using Portal.Web.Features.OpenApi;
using Portal.Web.Features.CustomerLink;
using Portal.Web.Features.Database;
using Portal.Web.Features.Diagnostics;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Probes;
using Portal.Web.Features.Sessions;
using Radzen;

// Settings and static-asset manifests sit next to the assembly, wherever the portal is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// Serve Radzen's and the framework's files straight from the build output too, not only from a publish folder.
builder.WebHost.UseStaticWebAssets();

// Where Kestrel terminates TLS, the ClientHello tells which TLS stack the customer's connection really came from.
builder.WebHost.ConfigureKestrel(ClientHelloCapture.Install);

// The hosting diagnostics log every request line, and customer-link tokens live in paths (/t/{token}) and in
// SignalR's access_token query: such lines must never reach a log.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Connections", LogLevel.Warning);

builder.Services.Configure<PortalOptions>(builder.Configuration.GetSection(PortalOptions.Section));
builder.Services.AddSingleton(TimeProvider.System);

using (var startupLogging = LoggerFactory.Create(b => b.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole()))
{
    try
    {
        await builder.AddPortalDatabaseAsync(startupLogging.CreateLogger("Portal.Database"));
    }
    catch (EmbeddedPostgresException ex)
    {
        await Console.Error.WriteLineAsync(ex.Message);
        return 1;
    }
}

builder.Services.AddProblemDetails();
builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddCascadingAuthenticationState();
builder.Services.AddRadzenComponents();
builder.Services.AddAccounts();
builder.Services.AddCustomerLink();
builder.Services.AddIngest();
builder.Services.AddSessions();
builder.Services.AddProbes(builder.Configuration);
builder.Services.AddAdmin(builder.Configuration);
builder.Services.AddReports();
builder.Services.AddPortalOpenApi();
builder.Services.AddSingleton<Portal.Web.Features.Diagnostics.EchoRegistry>();

var app = builder.Build();

try
{
    await app.MigrateAsync();
    await using var scope = app.Services.CreateAsyncScope();
    await scope.ServiceProvider.GetRequiredService<Bootstrap>().RunAsync(Console.Out, app.Lifetime.ApplicationStopping);
}
catch (Exception ex) when (ex is MigrationChecksumException or InvalidOperationException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    if (app.Services.GetService<EmbeddedPostgres>() is { } embedded)
    {
        await embedded.StopAsync();
    }

    return 2;
}

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler();
}

app.UseStatusCodePages();

// The echo endpoint is measured by idle-survival tests: no protocol pings of our own may keep a quiet socket alive.
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
app.UseMiddleware<OriginCheck>();
// Event streams (the customer hub's Server-Sent Events transport, /diag/sse) must not wait in a reverse proxy's
// buffer: nginx honours this header. Proxies that ignore it show up in the battery as sse-buffered.
app.Use((context, next) =>
{
    context.Response.OnStarting(() =>
    {
        if (context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
        {
            context.Response.Headers["X-Accel-Buffering"] = "no";
        }

        return Task.CompletedTask;
    });
    return next(context);
});
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapAccounts();
app.MapCustomerLink();
app.MapIngest();
app.MapEcho();
app.MapProbeEndpoints();
app.MapSessionsApi();
app.MapProbesApi();
app.MapReports();
app.MapAdminApi();
app.MapOpenApi();

await app.RunAsync();
return 0;
