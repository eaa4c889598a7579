import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Amazon DynamoDB Local bound to 127.0.0.1 only. DynamoDB Local has no option to choose its address: its
 * DynamoDBProxyServer makes a Jetty Server with `new Server(port)`, whose connector listens on every interface.
 * This launcher takes the same arguments as `java -jar DynamoDBLocal.jar` (ServerRunner parses them), sets the
 * host of that connector to 127.0.0.1 before the server starts, and starts it. Compiled and run by
 * infra/local/dynamodb-local.ts (loopbackLauncher).
 */
public class LoopbackDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) ((ServerConnector) connector).setHost("127.0.0.1");
    proxy.start();
  }
}
